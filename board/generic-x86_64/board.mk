# board/generic-x86_64: any x86_64 Linux (docker/podman host, x86 router, VM).
# Make-includable: `include board/$(BOARD)/board.mk`. scripts/mkimage.py reads
# the same lines (NAME := value, NAME = value, NAME ?= value; $(VAR) expands).
BOARD_DESCRIPTION := Generic x86_64 Linux: OCI/docker image or a bare static binary
ARCH := x86_64
ZIG_TARGET := x86_64-linux-musl
SWIFT_TARGET := x86_64-unknown-none-elf
IMAGE_ARCH := amd64
IMAGE_VARIANT :=
IMAGE_NAME := dnsbox
IMAGE_TAG = $(VERSION)-generic-x86_64
