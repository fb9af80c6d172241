from okrsync.cli import run

run()
