"""Register-level emulators of I2C chips behind an smbus2-compatible emulated bus."""

from firmware_sim.i2c.adxl345 import ADXL345_DEVID, Adxl345Emulator
from firmware_sim.i2c.bme280 import BME280_CHIP_ID, Bme280Calibration, Bme280Emulator
from firmware_sim.i2c.bus import EmulatedI2CBus, I2CDevice, I2CNack

__all__ = [
    "ADXL345_DEVID",
    "BME280_CHIP_ID",
    "Adxl345Emulator",
    "Bme280Calibration",
    "Bme280Emulator",
    "EmulatedI2CBus",
    "I2CDevice",
    "I2CNack",
]
