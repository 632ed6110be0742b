# Thin wrappers around ./dev, for those who type make.
.PHONY: setup demo run test lint bench
setup:
	./dev setup
demo:
	./dev demo
run:
	./dev run
test:
	./dev test
lint:
	./dev lint
bench:
	./dev bench
