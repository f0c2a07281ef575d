.PHONY: setup test demo layer descriptors bench

setup:
	./scripts/setup

test:
	./scripts/test

demo:
	./scripts/demo

# In FC's python3.10 build image (Debian 10): needs Docker and the image; see scripts/build-layer
layer:
	./scripts/build-layer --docker

descriptors: setup
	.venv/bin/python scripts/descriptors.py

bench: setup
	./scripts/bench
