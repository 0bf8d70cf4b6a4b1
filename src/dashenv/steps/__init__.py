"""What more than one workflow does, one piece each: an environment bound to its compose
project (``targets``), the pieces the workflows share below them. A workflow imports steps,
never another workflow (testing and ci excepted: they start environments and reset them)."""
