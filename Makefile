# Thin wrappers around ./dev, for those who type make.
.PHONY: setup run test lint bench
setup:
	./dev setup
run:
	./dev run
test:
	./dev test
lint:
	./dev lint
bench:
	./dev bench
