# Coursework labs (labs/README.md):
#   make lab-N [LABDIR=dir] [FORCE=1]  lab N's skeleton tree (default build/labs/lab-N)
#   make grade                         in a skeleton: build, run its lab's checks, grade
#   make grade LAB=N                   the same for lab N in any tree (the full tree: full marks)
# The grade is printed per check and written to $(BUILD)/grade-lab-N.json.
LAB ?= $(shell cat labs/this-lab 2>/dev/null)
LABDIR ?=
FORCE ?=

LAB_TARGETS := $(addprefix lab-,$(shell awk '$$1 == "lab" { print $$2 }' labs/labs.txt))
.PHONY: grade $(LAB_TARGETS)

$(LAB_TARGETS): lab-%:
	@python3 labs/cut.py --lab $* --out $(if $(LABDIR),$(LABDIR),build/labs/lab-$*) $(if $(FORCE),--force)

grade:
	@if [ -z "$(LAB)" ]; then echo "make grade: which lab? make grade LAB=N (labs/labs.txt lists them; a skeleton knows its own)" >&2; exit 2; fi
	@python3 labs/grade.py --lab $(LAB) --build $(BUILD) --make $(MAKE) --make-arg CC=$(CC) $(if $(SAN),--make-arg SAN=$(SAN))
