/* Host test of the C API, built twice by tests/host_c.rs: with -fsanitize=address,undefined,
 * and plain under valgrind. Flash and storage are heap blocks of exact size, so an access past
 * them is reported. Ends with "host: N passed, M failed". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fleet_ota.h"
#include "fleet_ota_vectors.h"
#include "flow.h"
#include "ram_flash.h"

static int passed, failed;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (cond) {                                                         \
      passed++;                                                         \
    } else {                                                            \
      failed++;                                                         \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
    }                                                                   \
  } while (0)

#define CHECK_ST(expected, call)                                                     \
  do {                                                                               \
    fleet_ota_status_t got_ = (call);                                                \
    if (got_ == (expected)) {                                                        \
      passed++;                                                                      \
    } else {                                                                         \
      failed++;                                                                      \
      fprintf(stderr, "FAIL %s:%d: %s returned %s, expected %s\n", __FILE__, __LINE__, \
              #call, fleet_ota_error_name(got_), #expected);                         \
    }                                                                                \
  } while (0)

static uint64_t no_clock(void) { return 0; }

static ram_flash *new_flash(uint32_t read_size, uint32_t write_size, uint32_t erase_size,
                            uint8_t erased) {
  ram_flash *f = calloc(1, sizeof *f);
  f->mem = malloc(FLOW_CAPACITY);
  f->capacity = FLOW_CAPACITY;
  f->read_size = read_size;
  f->write_size = write_size;
  f->erase_size = erase_size;
  f->erased = erased;
  ram_flash_noise(f, read_size * 131 + erase_size);
  return f;
}

static void free_flash(ram_flash *f) {
  free(f->mem);
  free(f);
}

static fleet_ota_device_t device(void) {
  fleet_ota_device_t d;
  memcpy(d.vendor_id, FV_VENDOR_ID, 16);
  memcpy(d.class_id, FV_CLASS_ID, 16);
  d.now = FV_NOW;
  return d;
}

static const fleet_ota_trust_t TRUST = {.root_keys = &FV_ROOT_KEY, .root_count = 1, .threshold = 1};
/* The device the bootloader's decide checks the kept envelopes for (set by main). */
static fleet_ota_device_t DEVICE;

/* The complete update on several flash geometries, both erased polarities. */
static void full_update(void) {
  static const uint32_t geometries[][4] = {
      /* read, write, erase, erased */
      {1, 8, 4096, 0xFF}, {4, 16, 2048, 0x00}, {16, 128, 4096, 0xFF}, {1, 1, 1024, 0x00}};
  for (size_t g = 0; g < sizeof geometries / sizeof geometries[0]; g++) {
    ram_flash *f = new_flash(geometries[g][0], geometries[g][1], geometries[g][2],
                             (uint8_t)geometries[g][3]);
    fleet_ota_flash_t ops = ram_flash_ops(f);
    void *storage = aligned_alloc(FLEET_OTA_UPDATER_STORAGE_ALIGN, FLEET_OTA_UPDATER_STORAGE_SIZE);
    flow_figures fig;
    flow_failure fail = {0};
    void *dec = aligned_alloc(FLEET_OTA_DECRYPTOR_STORAGE_ALIGN, FLEET_OTA_DECRYPTOR_STORAGE_SIZE);
    for (int encrypted = 0; encrypted <= 1; encrypted++) {
      int r = flow_full_update(&ops, storage, FLEET_OTA_UPDATER_STORAGE_SIZE,
                               encrypted ? dec : NULL, no_clock, &fig, &fail);
      if (r != 0)
        fprintf(stderr, "geometry %zu, encrypted %d: failed at %s: %s\n", g, encrypted,
                fail.step, fleet_ota_error_name(fail.status));
      CHECK(r == 0);
    }
    free(dec);
    CHECK(f->violations == 0);
    free(storage);
    free_flash(f);
  }
}

/* Every way the update must refuse, on one device. */
static void refusals(void) {
  ram_flash *f = new_flash(1, 8, 4096, 0xFF);
  fleet_ota_flash_t ops = ram_flash_ops(f);
  fleet_ota_image_info_t factory, info;
  fleet_ota_decision_t d;
  fleet_ota_state_t state;
  fleet_ota_updater_t *up = NULL;
  fleet_ota_device_t dev = device();
  uint32_t offset = 99;
  void *storage = aligned_alloc(FLEET_OTA_UPDATER_STORAGE_ALIGN, FLEET_OTA_UPDATER_STORAGE_SIZE);

  CHECK(flow_factory(&ops, &factory) == 0);
  /* A blank journal: nothing to open until provisioning. */
  CHECK_ST(FLEET_OTA_ERR_NO_STATE,
           fleet_ota_updater_open(storage, FLEET_OTA_UPDATER_STORAGE_SIZE, &ops, &FLOW_LAYOUT, &up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_provision(&ops, &FLOW_LAYOUT, 0, FV_FACTORY_ENVELOPE, sizeof FV_FACTORY_ENVELOPE));
  CHECK_ST(FLEET_OTA_OK,
           fleet_ota_updater_open(storage, FLEET_OTA_UPDATER_STORAGE_SIZE, &ops, &FLOW_LAYOUT, &up));

  /* Manifests that must not verify, each with its own code; a failed verify leaves nothing to
   * begin. */
  CHECK_ST(FLEET_OTA_ERR_SIGNATURE, fleet_ota_updater_verify(up, FV_ENVELOPE_BAD_SIGNATURE,
                                                           sizeof FV_ENVELOPE_BAD_SIGNATURE,
                                                           &TRUST, &dev, &info));
  CHECK_ST(FLEET_OTA_ERR_SIGNATURE,
           fleet_ota_updater_verify(up, FV_ENVELOPE_BY_STRANGER, sizeof FV_ENVELOPE_BY_STRANGER,
                                    &TRUST, &dev, NULL));
  CHECK_ST(FLEET_OTA_ERR_WRONG_HARDWARE,
           fleet_ota_updater_verify(up, FV_ENVELOPE_OTHER_CLASS, sizeof FV_ENVELOPE_OTHER_CLASS,
                                    &TRUST, &dev, NULL));
  CHECK_ST(FLEET_OTA_ERR_ROLLBACK,
           fleet_ota_updater_verify(up, FV_ENVELOPE_ROLLBACK, sizeof FV_ENVELOPE_ROLLBACK, &TRUST,
                                    &dev, NULL));
  fleet_ota_device_t late = dev;
  late.now = 4102444801ull;
  CHECK_ST(FLEET_OTA_ERR_EXPIRED, fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE,
                                                         &TRUST, &late, NULL));
  CHECK_ST(FLEET_OTA_ERR_DECODE, fleet_ota_updater_verify(up, FV_ENVELOPE, 10, &TRUST, &dev, NULL));
  /* ota-core reads a missing version byte as an unknown format version. */
  CHECK_ST(FLEET_OTA_ERR_FORMAT_VERSION, fleet_ota_updater_verify(up, FV_ENVELOPE, 0, &TRUST, &dev, NULL));
  {
    size_t big = 64 * 1024;
    uint8_t *huge = calloc(1, big);
    CHECK_ST(FLEET_OTA_ERR_ENVELOPE_TOO_LARGE,
             fleet_ota_updater_verify(up, huge, big, &TRUST, &dev, NULL));
    free(huge);
  }
  CHECK_ST(FLEET_OTA_ERR_NOT_VERIFIED, fleet_ota_updater_begin(up, &offset));

  /* Trust configurations that cannot be used. */
  fleet_ota_trust_t t = TRUST;
  t.threshold = 0;
  CHECK_ST(FLEET_OTA_ERR_BAD_TRUST, fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &t, &dev, NULL));
  t.threshold = 2;
  CHECK_ST(FLEET_OTA_ERR_BAD_TRUST, fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &t, &dev, NULL));
  t = TRUST;
  t.root_count = 0;
  CHECK_ST(FLEET_OTA_ERR_BAD_LENGTH, fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &t, &dev, NULL));
  t.root_count = FLEET_OTA_MAX_ROOTS + 1;
  CHECK_ST(FLEET_OTA_ERR_BAD_LENGTH, fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &t, &dev, NULL));
  t = TRUST;
  t.root_keys = NULL;
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &t, &dev, NULL));
  {
    /* Two roots, the stranger counted: still one valid signature of a 2-of-2 threshold. */
    uint8_t (*roots)[32] = malloc(2 * 32);
    memcpy(roots[0], FV_ROOT_KEY, 32);
    memcpy(roots[1], FV_STRANGER_KEY, 32);
    fleet_ota_trust_t two = {.root_keys = (const uint8_t(*)[32])roots, .root_count = 2, .threshold = 2};
    CHECK_ST(FLEET_OTA_ERR_SIGNATURE, fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &two, &dev, NULL));
    free(roots);
  }

  /* A signed manifest whose image digest is wrong: the image never reads back as signed. */
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_verify(up, FV_ENVELOPE_WRONG_DIGEST,
                                                sizeof FV_ENVELOPE_WRONG_DIGEST, &TRUST, &dev, &info));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_begin(up, &offset));
  CHECK(offset == 0);
  CHECK_ST(FLEET_OTA_ERR_INCOMPLETE, fleet_ota_updater_finish(up));
  CHECK_ST(FLEET_OTA_ERR_WRONG_PHASE, fleet_ota_updater_activate(up));
  CHECK_ST(FLEET_OTA_OK, flow_stream(up, 0, 333));
  {
    uint8_t extra = 0;
    CHECK_ST(FLEET_OTA_ERR_WRITE_BEYOND_IMAGE, fleet_ota_updater_write(up, &extra, 1));
  }
  CHECK_ST(FLEET_OTA_ERR_DIGEST_MISMATCH, fleet_ota_updater_finish(up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_state(up, &state));
  CHECK(state.phase == FLEET_OTA_PHASE_IDLE && state.last_event == FLEET_OTA_EVENT_DOWNLOAD_DIGEST_MISMATCH);
  CHECK(state.accepted_sequence == 2);

  /* The good release installs; then a replay of it is refused. */
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &TRUST, &dev, &info));
  CHECK_ST(FLEET_OTA_ERR_WRONG_PHASE, fleet_ota_updater_confirm(up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_begin(up, &offset));
  CHECK_ST(FLEET_OTA_OK, flow_stream(up, 0, 1024));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_finish(up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_activate(up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_close(up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_decide(&ops, &FLOW_LAYOUT, &TRUST, &DEVICE, &d));
  CHECK(d.bootable == 1 && d.slot == FLEET_OTA_SLOT_B && d.reason == FLEET_OTA_BOOT_TRIAL);
  CHECK_ST(FLEET_OTA_OK,
           fleet_ota_updater_open(storage, FLEET_OTA_UPDATER_STORAGE_SIZE, &ops, &FLOW_LAYOUT, &up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_confirm(up));
  CHECK_ST(FLEET_OTA_ERR_REPLAY, fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &TRUST, &dev, NULL));

  /* The next release is installed, booted as a trial and rejected: the confirmed image boots. */
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_verify(up, FV_ENVELOPE_NEXT, sizeof FV_ENVELOPE_NEXT, &TRUST, &dev, NULL));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_begin(up, &offset));
  CHECK_ST(FLEET_OTA_OK, flow_stream(up, 0, 1));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_finish(up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_activate(up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_close(up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_decide(&ops, &FLOW_LAYOUT, &TRUST, &DEVICE, &d));
  CHECK(d.slot == FLEET_OTA_SLOT_A && d.reason == FLEET_OTA_BOOT_TRIAL);
  CHECK_ST(FLEET_OTA_OK,
           fleet_ota_updater_open(storage, FLEET_OTA_UPDATER_STORAGE_SIZE, &ops, &FLOW_LAYOUT, &up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_reject(up));
  CHECK_ST(FLEET_OTA_ERR_WRONG_PHASE, fleet_ota_updater_reject(up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_close(up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_decide(&ops, &FLOW_LAYOUT, &TRUST, &DEVICE, &d));
  CHECK(d.bootable == 1 && d.slot == FLEET_OTA_SLOT_B && d.reason == FLEET_OTA_BOOT_CONFIRMED);

  /* A failing flash driver is an I/O error, not a crash, at any of the first operations. */
  for (uint32_t n = 1; n <= 40; n++) {
    f->fail_at = f->ops + n;
    fleet_ota_status_t st = fleet_ota_decide(&ops, &FLOW_LAYOUT, &TRUST, &DEVICE, &d);
    CHECK(st == FLEET_OTA_ERR_FLASH_IO || st == FLEET_OTA_OK);
  }
  f->fail_at = 0;
  CHECK(f->violations == 0);
  free(storage);
  free_flash(f);
}

/* Runs the application side from wherever the state is to an activated image; stops at the
 * first error (the power cut). */
static fleet_ota_status_t install(const fleet_ota_flash_t *ops, void *storage) {
  fleet_ota_updater_t *up = NULL;
  fleet_ota_device_t dev = device();
  fleet_ota_state_t state;
  uint32_t offset = 0;
  fleet_ota_status_t st =
      fleet_ota_updater_open(storage, FLEET_OTA_UPDATER_STORAGE_SIZE, ops, &FLOW_LAYOUT, &up);
  if (st != FLEET_OTA_OK) return st;
  st = fleet_ota_updater_state(up, &state);
  if (st == FLEET_OTA_OK && state.phase != FLEET_OTA_PHASE_ACTIVATED &&
      state.phase != FLEET_OTA_PHASE_TRIAL) {
    st = fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &TRUST, &dev, NULL);
    if (st == FLEET_OTA_OK) st = fleet_ota_updater_begin(up, &offset);
    if (st == FLEET_OTA_OK) st = flow_stream(up, offset, 700);
    if (st == FLEET_OTA_OK) st = fleet_ota_updater_finish(up);
    if (st == FLEET_OTA_OK) st = fleet_ota_updater_activate(up);
  }
  fleet_ota_updater_close(up);
  return st;
}

/* Power cut at every `stride`-th flash operation of an update (torn writes and erases), then
 * reboot: the bootloader must boot a verified image every time, and the update must complete
 * from there. Counts devices that did not. */
static void power_cuts(uint32_t stride) {
  uint32_t bricked = 0, cuts = 0, total_ops = 0;
  void *storage = aligned_alloc(FLEET_OTA_UPDATER_STORAGE_ALIGN, FLEET_OTA_UPDATER_STORAGE_SIZE);
  for (uint32_t n = 1;; n += stride) {
    ram_flash *f = new_flash(1, 8, 4096, n % 2 ? 0xFF : 0x00);
    fleet_ota_flash_t ops = ram_flash_ops(f);
    fleet_ota_image_info_t factory;
    fleet_ota_decision_t d;
    int ok = flow_factory(&ops, &factory) == 0 &&
             fleet_ota_provision(&ops, &FLOW_LAYOUT, 0, FV_FACTORY_ENVELOPE, sizeof FV_FACTORY_ENVELOPE) == FLEET_OTA_OK;
    uint32_t start = f->ops;
    f->torn = 1;
    f->fail_at = start + n;
    fleet_ota_status_t st = install(&ops, storage);
    int cut = f->ops >= f->fail_at;
    f->fail_at = 0;
    if (!cut) { /* the update finished before the n-th operation: every point was cut */
      total_ops = f->ops - start;
      CHECK(st == FLEET_OTA_OK);
      free_flash(f);
      break;
    }
    cuts++;
    /* Reboot: something verified must boot; then the update completes and is confirmed. */
    ok = ok && fleet_ota_decide(&ops, &FLOW_LAYOUT, &TRUST, &DEVICE, &d) == FLEET_OTA_OK && d.bootable == 1;
    ok = ok && install(&ops, storage) == FLEET_OTA_OK;
    ok = ok && fleet_ota_decide(&ops, &FLOW_LAYOUT, &TRUST, &DEVICE, &d) == FLEET_OTA_OK &&
         d.slot == FLEET_OTA_SLOT_B && d.version.minor == 1;
    fleet_ota_updater_t *up = NULL;
    ok = ok && fleet_ota_updater_open(storage, FLEET_OTA_UPDATER_STORAGE_SIZE, &ops, &FLOW_LAYOUT, &up) == FLEET_OTA_OK;
    ok = ok && fleet_ota_updater_confirm(up) == FLEET_OTA_OK;
    fleet_ota_updater_close(up);
    ok = ok && fleet_ota_decide(&ops, &FLOW_LAYOUT, &TRUST, &DEVICE, &d) == FLEET_OTA_OK &&
         d.slot == FLEET_OTA_SLOT_B && d.reason == FLEET_OTA_BOOT_CONFIRMED;
    if (!ok) {
      bricked++;
      fprintf(stderr, "power cut at operation %u: the device did not recover (%s)\n", n,
              fleet_ota_error_name(st));
    }
    free_flash(f);
  }
  printf("power cuts: %u cuts (every %u of %u flash operations, torn), %u bricked\n", cuts, stride,
         total_ops, bricked);
  CHECK(cuts > 0 && bricked == 0);
  free(storage);
}

/* NULL, misaligned, short and garbage arguments: error codes, never a crash. */
static void bad_arguments(void) {
  ram_flash *f = new_flash(1, 8, 4096, 0xFF);
  fleet_ota_flash_t ops = ram_flash_ops(f), bad;
  fleet_ota_image_info_t factory;
  fleet_ota_decision_t d;
  fleet_ota_state_t state;
  fleet_ota_updater_t *up = NULL;
  fleet_ota_device_t dev = device();
  uint32_t offset;
  const size_t n = FLEET_OTA_UPDATER_STORAGE_SIZE;
  uint8_t *storage = aligned_alloc(FLEET_OTA_UPDATER_STORAGE_ALIGN, n + FLEET_OTA_UPDATER_STORAGE_ALIGN);

  CHECK(fleet_ota_updater_storage_size() <= FLEET_OTA_UPDATER_STORAGE_SIZE);
  CHECK(flow_factory(&ops, &factory) == 0);
  CHECK_ST(FLEET_OTA_OK, fleet_ota_provision(&ops, &FLOW_LAYOUT, 0, FV_FACTORY_ENVELOPE, sizeof FV_FACTORY_ENVELOPE));

  /* Opening. */
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_open(NULL, n, &ops, &FLOW_LAYOUT, &up));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_open(storage, n, NULL, &FLOW_LAYOUT, &up));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_open(storage, n, &ops, NULL, &up));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_open(storage, n, &ops, &FLOW_LAYOUT, NULL));
  CHECK_ST(FLEET_OTA_ERR_BAD_LENGTH,
           fleet_ota_updater_open(storage, fleet_ota_updater_storage_size() - 1, &ops, &FLOW_LAYOUT, &up));
  CHECK_ST(FLEET_OTA_ERR_BAD_LENGTH, fleet_ota_updater_open(storage, 0, &ops, &FLOW_LAYOUT, &up));
  CHECK_ST(FLEET_OTA_ERR_BAD_ALIGNMENT, fleet_ota_updater_open(storage + 1, n, &ops, &FLOW_LAYOUT, &up));
  CHECK_ST(FLEET_OTA_ERR_BAD_ALIGNMENT,
           fleet_ota_updater_open(storage, n, (const fleet_ota_flash_t *)((uint8_t *)&ops + 1), &FLOW_LAYOUT, &up));
  bad = ops;
  bad.read = NULL;
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_open(storage, n, &bad, &FLOW_LAYOUT, &up));
  bad = ops;
  bad.erase = NULL;
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_decide(&bad, &FLOW_LAYOUT, &TRUST, &DEVICE, &d));
  bad = ops;
  bad.write_size = 3;
  CHECK_ST(FLEET_OTA_ERR_FLASH_GEOMETRY, fleet_ota_updater_open(storage, n, &bad, &FLOW_LAYOUT, &up));
  bad = ops;
  bad.write_size = 256;
  CHECK_ST(FLEET_OTA_ERR_FLASH_GEOMETRY, fleet_ota_decide(&bad, &FLOW_LAYOUT, &TRUST, &DEVICE, &d));
  bad = ops;
  bad.erase_size = 8192;
  CHECK_ST(FLEET_OTA_ERR_FLASH_GEOMETRY, fleet_ota_decide(&bad, &FLOW_LAYOUT, &TRUST, &DEVICE, &d));
  bad = ops;
  bad.erased_value = 0x55;
  CHECK_ST(FLEET_OTA_ERR_FLASH_GEOMETRY, fleet_ota_decide(&bad, &FLOW_LAYOUT, &TRUST, &DEVICE, &d));
  bad = ops;
  bad.capacity = 0;
  CHECK_ST(FLEET_OTA_ERR_FLASH_GEOMETRY, fleet_ota_decide(&bad, &FLOW_LAYOUT, &TRUST, &DEVICE, &d));
  bad = ops;
  bad.capacity = 0x40000; /* slot B would end beyond it */
  CHECK_ST(FLEET_OTA_ERR_BAD_LAYOUT, fleet_ota_decide(&bad, &FLOW_LAYOUT, &TRUST, &DEVICE, &d));
  {
    fleet_ota_layout_t l = FLOW_LAYOUT;
    l.slot_b = l.slot_a + 0x1000; /* overlaps slot A */
    CHECK_ST(FLEET_OTA_ERR_BAD_LAYOUT, fleet_ota_updater_open(storage, n, &ops, &l, &up));
    l = FLOW_LAYOUT;
    l.journal_sectors = 1;
    CHECK_ST(FLEET_OTA_ERR_BAD_LAYOUT, fleet_ota_decide(&ops, &l, &TRUST, &DEVICE, &d));
    l = FLOW_LAYOUT;
    l.slot_a = 0x10100; /* not sector aligned */
    CHECK_ST(FLEET_OTA_ERR_BAD_LAYOUT, fleet_ota_decide(&ops, &l, &TRUST, &DEVICE, &d));
  }

  /* Handles that are not open. */
  memset(storage, 0, n);
  CHECK_ST(FLEET_OTA_ERR_NOT_OPEN, fleet_ota_updater_finish((fleet_ota_updater_t *)storage));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_finish(NULL));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_begin(NULL, &offset));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_write(NULL, NULL, 0));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_activate(NULL));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_confirm(NULL));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_reject(NULL));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_close(NULL));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_state(NULL, &state));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_verify(NULL, FV_ENVELOPE, sizeof FV_ENVELOPE, &TRUST, &dev, NULL));
  CHECK_ST(FLEET_OTA_ERR_BAD_ALIGNMENT, fleet_ota_updater_finish((fleet_ota_updater_t *)(storage + 1)));

  /* An open handle, then bad arguments to each call. */
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_open(storage, n, &ops, &FLOW_LAYOUT, &up));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_state(up, NULL));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_verify(up, NULL, 10, &TRUST, &dev, NULL));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, NULL, &dev, NULL));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &TRUST, NULL, NULL));
  CHECK_ST(FLEET_OTA_ERR_BAD_ALIGNMENT,
           fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &TRUST, &dev,
                                    (fleet_ota_image_info_t *)((uint8_t *)&factory + 1)));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &TRUST, &dev, NULL));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_begin(up, NULL));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_begin(up, &offset));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_updater_write(up, NULL, 5));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_write(up, NULL, 0));
  CHECK_ST(FLEET_OTA_ERR_BAD_LENGTH, fleet_ota_updater_write(up, FV_ENVELOPE, SIZE_MAX));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_state(up, &state));
  CHECK(state.phase == FLEET_OTA_PHASE_DOWNLOADING);
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_close(up));
  CHECK_ST(FLEET_OTA_ERR_NOT_OPEN, fleet_ota_updater_close(up));
  CHECK_ST(FLEET_OTA_ERR_NOT_OPEN, fleet_ota_updater_write(up, FV_ENVELOPE, 4));

  /* The bootloader side. */
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_decide(NULL, &FLOW_LAYOUT, &TRUST, &DEVICE, &d));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_decide(&ops, NULL, &TRUST, &DEVICE, &d));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_decide(&ops, &FLOW_LAYOUT, &TRUST, &DEVICE, NULL));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_provision(&ops, &FLOW_LAYOUT, 0, NULL, 10));
  CHECK_ST(FLEET_OTA_ERR_BAD_ARGUMENT, fleet_ota_provision(&ops, &FLOW_LAYOUT, 2, FV_FACTORY_ENVELOPE, sizeof FV_FACTORY_ENVELOPE));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_decide(&ops, &FLOW_LAYOUT, NULL, &DEVICE, &d));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_decide(&ops, &FLOW_LAYOUT, &TRUST, NULL, &d));
  {
    fleet_ota_trust_t t = TRUST;
    t.root_count = 0;
    CHECK_ST(FLEET_OTA_ERR_BAD_LENGTH, fleet_ota_decide(&ops, &FLOW_LAYOUT, &t, &DEVICE, &d));
    t = TRUST;
    t.threshold = 2;
    CHECK_ST(FLEET_OTA_ERR_BAD_TRUST, fleet_ota_decide(&ops, &FLOW_LAYOUT, &t, &DEVICE, &d));
  }
  CHECK_ST(FLEET_OTA_ERR_BAD_LENGTH, fleet_ota_provision(&ops, &FLOW_LAYOUT, 0, FV_FACTORY_ENVELOPE, 0));
  {
    static uint8_t big[FLEET_OTA_MAX_ENVELOPE_LEN + 1];
    memcpy(big, FV_FACTORY_ENVELOPE, sizeof FV_FACTORY_ENVELOPE);
    CHECK_ST(FLEET_OTA_ERR_BAD_LENGTH, fleet_ota_provision(&ops, &FLOW_LAYOUT, 0, big, sizeof big));
  }
  CHECK_ST(FLEET_OTA_ERR_ENVELOPE_MISMATCH,
           fleet_ota_provision(&ops, &FLOW_LAYOUT, 0, FV_FACTORY_ENVELOPE, sizeof FV_FACTORY_ENVELOPE - 1));
  /* The update's envelope does not describe the image in slot A. */
  CHECK_ST(FLEET_OTA_ERR_DIGEST_MISMATCH,
           fleet_ota_provision(&ops, &FLOW_LAYOUT, 0, FV_ENVELOPE, sizeof FV_ENVELOPE));
  CHECK_ST(FLEET_OTA_ERR_IMAGE_TOO_LARGE,
           fleet_ota_provision(&ops, &FLOW_LAYOUT, 0, FV_FACTORY_ENVELOPE_TOO_LARGE,
                               sizeof FV_FACTORY_ENVELOPE_TOO_LARGE));

  /* Product ids. */
  {
    uint8_t id[16];
    CHECK_ST(FLEET_OTA_OK, fleet_ota_product_id((const uint8_t *)"fleet-ops", 9, id));
    CHECK(memcmp(id, FV_VENDOR_ID, 16) == 0);
    CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_product_id(NULL, 9, id));
    CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_product_id((const uint8_t *)"x", 1, NULL));
    CHECK_ST(FLEET_OTA_ERR_BAD_ARGUMENT, fleet_ota_product_id((const uint8_t *)"\xff\xfe", 2, id));
  }
  free(storage);
  free_flash(f);
}

/* An encrypted image: decrypt each segment in place, write the plaintext. */
static void encrypted(void) {
  ram_flash *f = new_flash(4, 8, 4096, 0xFF);
  fleet_ota_flash_t ops = ram_flash_ops(f);
  fleet_ota_image_info_t factory, info;
  fleet_ota_decision_t d;
  fleet_ota_updater_t *up = NULL;
  fleet_ota_decryptor_t *dec = NULL;
  fleet_ota_device_t dev = device();
  uint32_t offset;
  size_t next = 0, plain = 0, done = 0;
  void *storage = aligned_alloc(FLEET_OTA_UPDATER_STORAGE_ALIGN, FLEET_OTA_UPDATER_STORAGE_SIZE);
  void *dstorage = aligned_alloc(FLEET_OTA_DECRYPTOR_STORAGE_ALIGN, FLEET_OTA_DECRYPTOR_STORAGE_SIZE);
  uint8_t wrong_key[32];
  memcpy(wrong_key, FV_IMAGE_KEY, 32);
  wrong_key[31] ^= 1;

  CHECK(flow_factory(&ops, &factory) == 0);
  CHECK_ST(FLEET_OTA_OK, fleet_ota_provision(&ops, &FLOW_LAYOUT, 0, FV_FACTORY_ENVELOPE, sizeof FV_FACTORY_ENVELOPE));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_open(storage, FLEET_OTA_UPDATER_STORAGE_SIZE, &ops, &FLOW_LAYOUT, &up));
  CHECK_ST(FLEET_OTA_ERR_NOT_VERIFIED, fleet_ota_decryptor_open(dstorage, FLEET_OTA_DECRYPTOR_STORAGE_SIZE, up, FV_IMAGE_KEY, &dec));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &TRUST, &dev, &info));
  CHECK(info.encrypted == 0);
  CHECK_ST(FLEET_OTA_ERR_NOT_ENCRYPTED, fleet_ota_decryptor_open(dstorage, FLEET_OTA_DECRYPTOR_STORAGE_SIZE, up, FV_IMAGE_KEY, &dec));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_verify(up, FV_ENC_ENVELOPE, sizeof FV_ENC_ENVELOPE, &TRUST, &dev, &info));
  CHECK(info.encrypted == 1 && info.image_size == FV_IMAGE_LEN);
  CHECK_ST(FLEET_OTA_ERR_WRONG_KEY, fleet_ota_decryptor_open(dstorage, FLEET_OTA_DECRYPTOR_STORAGE_SIZE, up, wrong_key, &dec));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_decryptor_open(dstorage, FLEET_OTA_DECRYPTOR_STORAGE_SIZE, up, NULL, &dec));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_decryptor_open(dstorage, FLEET_OTA_DECRYPTOR_STORAGE_SIZE, NULL, FV_IMAGE_KEY, &dec));
  CHECK_ST(FLEET_OTA_ERR_BAD_LENGTH, fleet_ota_decryptor_open(dstorage, 64, up, FV_IMAGE_KEY, &dec));
  /* A decryptor closed before the last segment reports the truncation. */
  CHECK_ST(FLEET_OTA_OK, fleet_ota_decryptor_open(dstorage, FLEET_OTA_DECRYPTOR_STORAGE_SIZE, up, FV_IMAGE_KEY, &dec));
  CHECK_ST(FLEET_OTA_ERR_TRUNCATED, fleet_ota_decryptor_close(dec));
  CHECK_ST(FLEET_OTA_ERR_NOT_OPEN, fleet_ota_decryptor_close(dec));

  CHECK_ST(FLEET_OTA_OK, fleet_ota_decryptor_open(dstorage, FLEET_OTA_DECRYPTOR_STORAGE_SIZE, up, FV_IMAGE_KEY, &dec));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_begin(up, &offset));
  CHECK(offset == 0);
  int segments = 0;
  for (;;) {
    CHECK_ST(FLEET_OTA_OK, fleet_ota_decryptor_next_len(dec, &next));
    if (next == 0 || done + next > sizeof FV_ENC_IMAGE) break;
    uint8_t *seg = malloc(next);
    if (segments == 3) { /* one altered byte: refused, buffer zeroed, nothing advanced */
      memcpy(seg, FV_ENC_IMAGE + done, next);
      seg[100] ^= 0x40;
      CHECK_ST(FLEET_OTA_ERR_AUTHENTICATION, fleet_ota_decryptor_decrypt(dec, seg, next, &plain));
      CHECK(seg[0] == 0 && seg[next - 1] == 0);
      CHECK_ST(FLEET_OTA_ERR_SEGMENT_LENGTH, fleet_ota_decryptor_decrypt(dec, seg, next - 1, &plain));
      CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_decryptor_decrypt(dec, NULL, next, &plain));
      CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_decryptor_decrypt(dec, seg, next, NULL));
    }
    memcpy(seg, FV_ENC_IMAGE + done, next);
    CHECK_ST(FLEET_OTA_OK, fleet_ota_decryptor_decrypt(dec, seg, next, &plain));
    CHECK(plain == next - FLEET_OTA_SEGMENT_TAG_LEN);
    CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_write(up, seg, plain));
    done += next;
    segments++;
    free(seg);
  }
  CHECK(done == sizeof FV_ENC_IMAGE && segments == 17);
  {
    uint8_t extra[32] = {0};
    CHECK_ST(FLEET_OTA_ERR_TRAILING_SEGMENT, fleet_ota_decryptor_decrypt(dec, extra, sizeof extra, &plain));
  }
  CHECK_ST(FLEET_OTA_OK, fleet_ota_decryptor_close(dec));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_finish(up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_activate(up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_close(up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_decide(&ops, &FLOW_LAYOUT, &TRUST, &DEVICE, &d));
  CHECK(d.bootable == 1 && d.slot == FLEET_OTA_SLOT_B && d.reason == FLEET_OTA_BOOT_TRIAL);
  CHECK(f->violations == 0);
  free(dstorage);
  free(storage);
  free_flash(f);
}

static void heartbeat(void) {
  const size_t n = FLEET_OTA_HEARTBEAT_ENCODER_STORAGE_SIZE;
  void *storage = malloc(n);
  uint8_t *frame = malloc(FLEET_OTA_HEARTBEAT_MAX_FRAME_LEN);
  {
    uint64_t instr[2];
    size_t bytes[2];
    flow_failure fail = {0};
    int r = flow_heartbeat(storage, frame, no_clock, instr, bytes, &fail);
    if (r != 0) fprintf(stderr, "heartbeat: %s (%s)\n", fail.step, fleet_ota_error_name(fail.status));
    CHECK(r == 0 && bytes[1] < bytes[0]);
  }
  size_t len = 0, key_len = 0;
  fleet_ota_heartbeat_encoder_t *enc = NULL;
  fleet_ota_heartbeat_t hb = {.boot_id = 7, .seq = 0, .start_uptime_s = 0, .len_s = 3600,
                              .has_wall_start = 0, .complete = 1, .continued = 0};
  fleet_ota_sample_t s[3] = {
      {.id = 1, .kind = FLEET_OTA_METRIC_GAUGE, .gauge_fields = FLEET_OTA_GAUGE_MIN | FLEET_OTA_GAUGE_LAST, .values = {3600, 0, 0, 3650}},
      {.id = 9, .kind = FLEET_OTA_METRIC_COUNTER, .gauge_fields = 0, .values = {12, 0, 0, 0}},
      {.id = 0x100, .kind = FLEET_OTA_METRIC_TIMER, .gauge_fields = 0, .values = {5000, 4, 0, 0}}};

  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_heartbeat_encoder_open(storage, n, 24, NULL));
  CHECK_ST(FLEET_OTA_ERR_BAD_LENGTH, fleet_ota_heartbeat_encoder_open(storage, 16, 24, &enc));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_heartbeat_encoder_open(storage, n, 24, &enc));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_heartbeat_encode(enc, &hb, s, 3, frame, FLEET_OTA_HEARTBEAT_MAX_FRAME_LEN, &key_len));
  CHECK(key_len > 8 && key_len < 64);
  hb.seq = 1;
  s[1].values[0] = 13;
  CHECK_ST(FLEET_OTA_OK, fleet_ota_heartbeat_encode(enc, &hb, s, 3, frame, FLEET_OTA_HEARTBEAT_MAX_FRAME_LEN, &len));
  CHECK(len > 0 && len < key_len); /* a delta frame */
  hb.seq = 2;
  CHECK_ST(FLEET_OTA_ERR_BUFFER_TOO_SMALL, fleet_ota_heartbeat_encode(enc, &hb, s, 3, frame, 4, &len));
  CHECK_ST(FLEET_OTA_ERR_BAD_LENGTH, fleet_ota_heartbeat_encode(enc, &hb, s, FLEET_OTA_HEARTBEAT_MAX_METRICS + 1, frame, 64, &len));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_heartbeat_encode(enc, &hb, NULL, 3, frame, 64, &len));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_heartbeat_encode(enc, NULL, s, 3, frame, 64, &len));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_heartbeat_encode(enc, &hb, s, 3, NULL, 64, &len));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_heartbeat_encode(enc, &hb, s, 3, frame, 64, NULL));
  s[0].kind = 9;
  CHECK_ST(FLEET_OTA_ERR_BAD_ARGUMENT, fleet_ota_heartbeat_encode(enc, &hb, s, 3, frame, 64, &len));
  s[0].kind = FLEET_OTA_METRIC_GAUGE;
  s[0].gauge_fields = 0;
  CHECK_ST(FLEET_OTA_ERR_BAD_ARGUMENT, fleet_ota_heartbeat_encode(enc, &hb, s, 3, frame, 64, &len));
  s[0].gauge_fields = FLEET_OTA_GAUGE_LAST;
  s[1].id = 1;
  CHECK_ST(FLEET_OTA_ERR_METRIC_ORDER, fleet_ota_heartbeat_encode(enc, &hb, s, 3, frame, 64, &len));
  s[1].id = 9;
  hb.complete = 2;
  CHECK_ST(FLEET_OTA_ERR_BAD_ARGUMENT, fleet_ota_heartbeat_encode(enc, &hb, s, 3, frame, 64, &len));
  hb.complete = 1;
  CHECK_ST(FLEET_OTA_OK, fleet_ota_heartbeat_encoder_force_key(enc));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_heartbeat_encode(enc, &hb, s, 3, frame, FLEET_OTA_HEARTBEAT_MAX_FRAME_LEN, &len));
  CHECK(len >= key_len - 2); /* a key frame again */
  CHECK_ST(FLEET_OTA_OK, fleet_ota_heartbeat_encoder_close(enc));
  CHECK_ST(FLEET_OTA_ERR_NOT_OPEN, fleet_ota_heartbeat_encoder_force_key(enc));
  CHECK_ST(FLEET_OTA_ERR_NULL_POINTER, fleet_ota_heartbeat_encoder_close(NULL));
  free(frame);
  free(storage);
}

/* Every status code has a name (its own spelling) and a message; unknown codes have one too. */
#define STATUSES(X)                                                                          \
  X(FLEET_OTA_OK) X(FLEET_OTA_ERR_NULL_POINTER) X(FLEET_OTA_ERR_BAD_LENGTH)                  \
  X(FLEET_OTA_ERR_BAD_ALIGNMENT) X(FLEET_OTA_ERR_NOT_OPEN) X(FLEET_OTA_ERR_BAD_ARGUMENT)     \
  X(FLEET_OTA_ERR_NOT_VERIFIED) X(FLEET_OTA_ERR_FLASH_GEOMETRY) X(FLEET_OTA_ERR_BAD_LAYOUT)   \
  X(FLEET_OTA_ERR_FLASH_IO) X(FLEET_OTA_ERR_FLASH_CORRUPTED) X(FLEET_OTA_ERR_NO_STATE)        \
  X(FLEET_OTA_ERR_JOURNAL_EXHAUSTED) X(FLEET_OTA_ERR_WRONG_PHASE)                            \
  X(FLEET_OTA_ERR_SEQUENCE_NOT_NEWER) X(FLEET_OTA_ERR_SECURITY_VERSION_TOO_OLD)              \
  X(FLEET_OTA_ERR_NO_ATTEMPTS) X(FLEET_OTA_ERR_IMAGE_TOO_LARGE)                              \
  X(FLEET_OTA_ERR_WRITE_BEYOND_IMAGE) X(FLEET_OTA_ERR_INCOMPLETE)                            \
  X(FLEET_OTA_ERR_DIGEST_MISMATCH) X(FLEET_OTA_ERR_RUNNING_SLOT)                            \
  X(FLEET_OTA_ERR_ENVELOPE_MISMATCH) X(FLEET_OTA_ERR_ENVELOPE_TOO_LARGE)                     \
  X(FLEET_OTA_ERR_FORMAT_VERSION) X(FLEET_OTA_ERR_DECODE) X(FLEET_OTA_ERR_SIGNATURE)         \
  X(FLEET_OTA_ERR_WRONG_VENDOR) X(FLEET_OTA_ERR_WRONG_HARDWARE) X(FLEET_OTA_ERR_REPLAY)      \
  X(FLEET_OTA_ERR_ROLLBACK) X(FLEET_OTA_ERR_EXPIRED) X(FLEET_OTA_ERR_TOO_LARGE_FOR_SLOT)     \
  X(FLEET_OTA_ERR_INSTALLED_TOO_OLD) X(FLEET_OTA_ERR_BAD_TRUST)                              \
  X(FLEET_OTA_ERR_BUFFER_TOO_SMALL) X(FLEET_OTA_ERR_METRIC_ORDER)                            \
  X(FLEET_OTA_ERR_HEARTBEAT_ENCODE) X(FLEET_OTA_ERR_NOT_ENCRYPTED) X(FLEET_OTA_ERR_WRONG_KEY)    \
  X(FLEET_OTA_ERR_BAD_SEGMENT_SIZE) X(FLEET_OTA_ERR_SEGMENT_LENGTH)                          \
  X(FLEET_OTA_ERR_AUTHENTICATION) X(FLEET_OTA_ERR_TRAILING_SEGMENT) X(FLEET_OTA_ERR_TRUNCATED) \
  X(FLEET_OTA_ERR_INTERNAL)

static void error_names(void) {
  int known = 0, listed = 0;
#define NAMED(code)                                                   \
  listed++;                                                           \
  CHECK(strcmp(fleet_ota_error_name(code), #code) == 0);              \
  CHECK(strlen(fleet_ota_error_message(code)) > 5);
  STATUSES(NAMED)
#undef NAMED
  for (int32_t c = -200; c <= 200; c++) {
    const char *name = fleet_ota_error_name(c);
    const char *message = fleet_ota_error_message(c);
    CHECK(name != NULL && message != NULL);
    if (strcmp(name, "FLEET_OTA_ERR_UNKNOWN_CODE") != 0) known++;
  }
  CHECK(known == listed && listed == 46);
  CHECK(strcmp(fleet_ota_error_name(INT32_MIN), "FLEET_OTA_ERR_UNKNOWN_CODE") == 0);
  CHECK(strcmp(fleet_ota_error_message(1), "not a fleet_ota status code") == 0);
}

/* The bootloader is the root of trust: a factory image whose kept envelope a stranger signed
 * does not boot, and an application that says which slot it runs from cannot erase it. */
static void root_of_trust(void) {
  ram_flash *f = new_flash(1, 8, 4096, 0x00);
  fleet_ota_flash_t ops = ram_flash_ops(f);
  fleet_ota_image_info_t factory;
  fleet_ota_decision_t d;
  fleet_ota_updater_t *up = NULL;
  uint32_t offset = 0;
  void *storage = aligned_alloc(FLEET_OTA_UPDATER_STORAGE_ALIGN, FLEET_OTA_UPDATER_STORAGE_SIZE);

  CHECK(flow_factory(&ops, &factory) == 0);
  CHECK_ST(FLEET_OTA_OK, fleet_ota_provision(&ops, &FLOW_LAYOUT, 0, FV_FACTORY_ENVELOPE_BY_STRANGER,
                                             sizeof FV_FACTORY_ENVELOPE_BY_STRANGER));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_decide(&ops, &FLOW_LAYOUT, &TRUST, &DEVICE, &d));
  CHECK(d.bootable == 0 && d.reason == FLEET_OTA_BOOT_NONE);
  CHECK(d.slot_a_status == FLEET_OTA_SLOT_STATUS_NOT_AUTHORIZED);
  CHECK(d.slot_b_status == FLEET_OTA_SLOT_STATUS_NO_FOOTER);
  /* Another product's bootloader refuses the genuine envelope too. */
  CHECK(flow_factory(&ops, &factory) == 0);
  CHECK_ST(FLEET_OTA_OK, fleet_ota_provision(&ops, &FLOW_LAYOUT, 0, FV_FACTORY_ENVELOPE,
                                             sizeof FV_FACTORY_ENVELOPE));
  {
    fleet_ota_device_t other = DEVICE;
    other.class_id[0] ^= 1;
    CHECK_ST(FLEET_OTA_OK, fleet_ota_decide(&ops, &FLOW_LAYOUT, &TRUST, &other, &d));
    CHECK(d.bootable == 0 && d.slot_a_status == FLEET_OTA_SLOT_STATUS_NOT_AUTHORIZED);
  }
  CHECK_ST(FLEET_OTA_OK, fleet_ota_decide(&ops, &FLOW_LAYOUT, &TRUST, &DEVICE, &d));
  CHECK(d.bootable == 1 && d.slot == FLEET_OTA_SLOT_A && d.reason == FLEET_OTA_BOOT_CONFIRMED);

  /* An application that runs from B (whatever the journal says) never erases B. */
  CHECK_ST(FLEET_OTA_ERR_BAD_ARGUMENT,
           fleet_ota_updater_open_running(storage, FLEET_OTA_UPDATER_STORAGE_SIZE, &ops,
                                          &FLOW_LAYOUT, 2, &up));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_open_running(storage, FLEET_OTA_UPDATER_STORAGE_SIZE,
                                                        &ops, &FLOW_LAYOUT, 1, &up));
  CHECK_ST(FLEET_OTA_OK,
           fleet_ota_updater_verify(up, FV_ENVELOPE, sizeof FV_ENVELOPE, &TRUST, &DEVICE, NULL));
  CHECK_ST(FLEET_OTA_ERR_RUNNING_SLOT, fleet_ota_updater_begin(up, &offset));
  CHECK_ST(FLEET_OTA_OK, fleet_ota_updater_close(up));
  CHECK(f->violations == 0);
  free(storage);
  free_flash(f);
}

int main(int argc, char **argv) {
  uint32_t stride = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1;
  DEVICE = device();
  root_of_trust();
  full_update();
  power_cuts(stride ? stride : 1);
  refusals();
  bad_arguments();
  encrypted();
  heartbeat();
  error_names();
  printf("storage: updater=%zu bytes (bound %d), heartbeat encoder bound %d\n",
         fleet_ota_updater_storage_size(), FLEET_OTA_UPDATER_STORAGE_SIZE,
         FLEET_OTA_HEARTBEAT_ENCODER_STORAGE_SIZE);
  printf("host: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
