from dashenv.entry import main

main()
