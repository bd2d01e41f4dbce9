from livebokeh.app.cli import main

if __name__ == "__main__":  # not when a batch worker process is spawned from here
    main()
