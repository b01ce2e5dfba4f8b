from osci.cli.main import main

main()
