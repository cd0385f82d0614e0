from cidx.entry import main

main()
