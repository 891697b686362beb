/* A NOR flash in RAM for the C tests: erase-before-write and alignment enforced, wear counted,
 * and an injectable failure. Used by tests/host.c (heap memory, so valgrind sees overruns) and
 * c/qemu_main.c (a region of the emulated board). */
#ifndef RAM_FLASH_H
#define RAM_FLASH_H
#include <stddef.h>
#include <stdint.h>
#include "fleet_ota.h"

typedef struct {
  uint8_t *mem;
  uint32_t capacity, read_size, write_size, erase_size;
  uint8_t erased;
  /* Counters. */
  uint32_t erases, writes, bytes_written, reads;
  /* Protocol violations seen (misaligned access, write over unerased bytes, out of range). */
  uint32_t violations;
  /* When non-zero, the operation with this number (counted over all kinds) fails with -5; with
   * `torn` set, a failing write programs its first half and a failing erase erases its first
   * sector before failing (a power cut inside the operation). */
  uint32_t fail_at, ops;
  int torn;
} ram_flash;

static int ram_flash_tick(ram_flash *f) {
  f->ops++;
  return f->fail_at != 0 && f->ops == f->fail_at;
}

static int32_t ram_flash_read(void *ctx, uint32_t off, uint8_t *buf, size_t len) {
  ram_flash *f = (ram_flash *)ctx;
  if (ram_flash_tick(f)) return -5;
  if (off % f->read_size || len % f->read_size || (uint64_t)off + len > f->capacity) {
    f->violations++;
    return -1;
  }
  for (size_t i = 0; i < len; i++) buf[i] = f->mem[off + i];
  f->reads++;
  return 0;
}

static int32_t ram_flash_write(void *ctx, uint32_t off, const uint8_t *data, size_t len) {
  ram_flash *f = (ram_flash *)ctx;
  if (ram_flash_tick(f)) {
    if (f->torn && (uint64_t)off + len <= f->capacity)
      for (size_t i = 0; i < len / 2; i++)
        f->mem[off + i] = f->erased == 0xFF ? (uint8_t)(f->mem[off + i] & data[i])
                                            : (uint8_t)(f->mem[off + i] | data[i]);
    return -5;
  }
  if (off % f->write_size || len % f->write_size || (uint64_t)off + len > f->capacity) {
    f->violations++;
    return -1;
  }
  for (size_t i = 0; i < len; i++) {
    if (f->mem[off + i] != f->erased) {
      f->violations++;
      return -2;
    }
  }
  for (size_t i = 0; i < len; i++) f->mem[off + i] = data[i];
  f->writes++;
  f->bytes_written += (uint32_t)len;
  return 0;
}

static int32_t ram_flash_erase(void *ctx, uint32_t from, uint32_t to) {
  ram_flash *f = (ram_flash *)ctx;
  if (ram_flash_tick(f)) {
    if (f->torn && from < to && to <= f->capacity)
      for (uint32_t i = from; i < from + f->erase_size && i < to; i++) f->mem[i] = f->erased;
    return -5;
  }
  if (from % f->erase_size || to % f->erase_size || from > to || to > f->capacity) {
    f->violations++;
    return -1;
  }
  for (uint32_t i = from; i < to; i++) f->mem[i] = f->erased;
  f->erases += (to - from) / f->erase_size;
  return 0;
}

/* Fills the flash with noise, so nothing can rely on its first contents. */
static void ram_flash_noise(ram_flash *f, uint32_t seed) {
  uint32_t x = seed | 1u;
  for (uint32_t i = 0; i < f->capacity; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    f->mem[i] = (uint8_t)x;
  }
}

static fleet_ota_flash_t ram_flash_ops(ram_flash *f) {
  fleet_ota_flash_t ops;
  ops.ctx = f;
  ops.read = ram_flash_read;
  ops.write = ram_flash_write;
  ops.erase = ram_flash_erase;
  ops.capacity = f->capacity;
  ops.read_size = f->read_size;
  ops.write_size = f->write_size;
  ops.erase_size = f->erase_size;
  ops.erased_value = f->erased;
  return ops;
}
#endif
