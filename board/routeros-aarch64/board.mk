# board/routeros-aarch64: MikroTik RouterOS v7 container on arm64 hardware.
# The image is a docker-archive tarball loaded with /container/add file=...;
# the database lives on the /data mount. Make-includable:
# `include board/$(BOARD)/board.mk`. scripts/mkimage.py reads the same lines.
BOARD_DESCRIPTION := MikroTik RouterOS v7 container (arm64), state on the /data mount
ARCH := aarch64
ZIG_TARGET := aarch64-linux-musl
SWIFT_TARGET := aarch64-none-none-elf
IMAGE_ARCH := arm64
IMAGE_VARIANT := v8
IMAGE_NAME := dnsbox
IMAGE_TAG = $(VERSION)-routeros-aarch64
