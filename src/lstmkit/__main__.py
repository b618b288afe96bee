from lstmkit.cli.main import entry

entry()
