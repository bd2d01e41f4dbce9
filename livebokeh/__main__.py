from livebokeh.cli import main

main()
