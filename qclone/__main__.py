from qclone.cli.main import run

run()
