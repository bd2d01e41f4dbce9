from livebokeh.app.cli import main

main()
