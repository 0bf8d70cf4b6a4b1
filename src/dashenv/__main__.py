from dashenv.cli import main

main()
