# board/generic-aarch64: any arm64 Linux (OpenWrt arm64 targets, arm64 SBCs,
# docker/podman on arm64). Make-includable: `include board/$(BOARD)/board.mk`.
# scripts/mkimage.py reads the same lines (:=, =, ?=; $(VAR) expands).
BOARD_DESCRIPTION := Generic arm64 Linux: OCI/docker image or a bare static binary
ARCH := aarch64
ZIG_TARGET := aarch64-linux-musl
SWIFT_TARGET := aarch64-none-none-elf
IMAGE_ARCH := arm64
IMAGE_VARIANT := v8
IMAGE_NAME := dnsbox
IMAGE_TAG = $(VERSION)-generic-aarch64
