# wpbx — two commands: `make run` and `make test` (see README.md).
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
DATA    ?= ./var
SIP     ?= 0.0.0.0:5060
WEB     ?= 0.0.0.0:8080
RTP     ?= 10000-20000
PYTEST_ARGS ?=

.PHONY: run test bench lint venv deps-apt clean image image-test

$(VENV)/.installed: setup.py pyproject.toml deps/pip-runtime.txt deps/pip-test.txt $(wildcard native/*.c native/*.h native/*_build.py)
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip setuptools wheel cffi
	$(VPY) -m pip install -q -r deps/pip-test.txt
	$(VPY) -m pip install -q -e .
	touch $@

venv: $(VENV)/.installed

# Debian packages the tests use as real peers; installed only when missing.
deps-apt:
	@missing=$$(for p in $$(grep -v '^#' deps/apt-test.txt | sort -u); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing Debian packages: $$missing"; \
	        apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq $$missing >/dev/null; \
	    else echo "not root: tests needing these will be skipped: $$missing"; fi; \
	fi

run: venv
	@mkdir -p $(DATA)
	$(VENV)/bin/wpbxd --data $(DATA) --mode host --sip-listen $(SIP) --web-listen $(WEB) --rtp-ports $(RTP)

test: venv deps-apt
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: venv deps-apt
	@for b in bench/*.py; do echo "== $$b"; $(VPY) $$b || exit 1; done

lint: venv
	$(VENV)/bin/ruff check .

# The firmware image (root; see image/build): build/image/{disk.img,vmlinuz,initrd.img,rootfs.ext4}
image: venv
	PYTHON=$(VPY) bash image/build build/image

# Boot the built image under QEMU and run the firmware tests (boot menu, web, SSH, upgrade).
image-test: venv deps-apt
	WPBX_IMAGE_DIR=$(CURDIR)/build/image $(VENV)/bin/pytest tests/image $(PYTEST_ARGS)

clean:
	rm -rf build *.egg-info $(VENV) wpbxd/_*.so
