.PHONY: setup test demo layer descriptors bench

setup:
	./scripts/setup

test:
	./scripts/test

demo:
	./scripts/demo

layer: setup
	PYTHON=.venv/bin/python ./scripts/build-layer

descriptors: setup
	.venv/bin/python scripts/descriptors.py

bench: setup
	./scripts/bench
