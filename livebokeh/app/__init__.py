"""Commands and services on top of the pipeline: the CLI, jobs, the live loop, the server."""
