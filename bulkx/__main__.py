from bulkx.cli.main import main

main()
