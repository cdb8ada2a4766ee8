"""`evit`: the toolkit's one command, each stage a subcommand (`evit export onnx ...`); see `evit.__main__`."""
