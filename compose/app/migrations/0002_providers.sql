CREATE TABLE providers (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL,
    access_token text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX providers_user_id_idx ON providers (user_id);
