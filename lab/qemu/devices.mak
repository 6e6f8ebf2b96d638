# Devices of our trimmed qemu-system-x86_64 (configure --without-default-devices --with-devices-x86_64=litepcie-hil).
# The q35 machine selects its chipset (ICH9 LPC, AHCI, PCIe host bridge, serial, RTC, fw_cfg DMA).
CONFIG_Q35=y
CONFIG_PCIE_PORT=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_9P=y
CONFIG_LITEPCIE_HIL=y
