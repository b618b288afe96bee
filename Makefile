# Two commands from a fresh clone:
#   make forecast   set up .venv and run the main job (lstmkit forecast on the bundled data)
#   make test       set up .venv and run the test suite
# Both install PyTorch's CPU build where no GPU is present (scripts/setup.sh says how).

.PHONY: setup forecast detect translate test

setup:
	bash scripts/setup.sh test,translate

forecast: setup
	.venv/bin/lstmkit forecast --out runs/air

detect: setup
	.venv/bin/lstmkit detect --out runs/detect

translate: setup
	.venv/bin/lstmkit translate --out runs/translate

test: setup
	.venv/bin/python -m pytest
