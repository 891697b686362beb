/* The complete update through the C API, shared by the host test and the Cortex-M4 program:
 * factory image in slot A and provisioning, decide, verify a signed manifest, begin, stream the
 * image, finish, activate, (reset) decide boots the trial, confirm, (reset) decide boots it as
 * confirmed. Needs fleet_ota.h and fleet_ota_vectors.h. */
#ifndef FLOW_H
#define FLOW_H
#include <stddef.h>
#include <stdint.h>
#include "fleet_ota.h"

/* Instructions (or any monotonic count) per step. */
typedef struct {
  uint64_t provision, decide_factory, open, verify, begin, decrypt, write, finish, activate;
  uint64_t decide_trial, reopen, confirm, decide_confirmed;
} flow_figures;

/* Where the flow failed: the step, and the status (FLEET_OTA_OK when a result was wrong). */
typedef struct {
  const char *step;
  fleet_ota_status_t status;
} flow_failure;

typedef uint64_t (*flow_clock)(void);

/* The layout every C test uses: a 2-sector journal, two 128 KiB slots, 3 trial attempts. */
static const fleet_ota_layout_t FLOW_LAYOUT = {
    .journal_offset = 0, .journal_sectors = 2, .slot_a = 0x10000, .slot_b = 0x30000,
    .slot_size = 0x20000, .trial_attempts = 3};
#define FLOW_CAPACITY 0x50000u

/* Runs the flow on `flash` (whatever it holds) with updater storage `storage`; 0 on success.
 * With `dec_storage` (FLEET_OTA_DECRYPTOR_STORAGE_SIZE bytes) the release is the encrypted
 * one: each 4 KiB AES-256-GCM segment is decrypted in place, then written. */
int flow_full_update(const fleet_ota_flash_t *flash, void *storage, size_t storage_len,
                     void *dec_storage, flow_clock clock, flow_figures *fig, flow_failure *fail);

/* Erases both slots and programs the factory image into slot A through the flash callbacks (as a factory
 * programmer would) and fills in its image info (what its signed envelope, the vectors'
 * FV_FACTORY_ENVELOPE, says). */
int flow_factory(const fleet_ota_flash_t *flash, fleet_ota_image_info_t *info);

/* The vectors' trust anchors (one root, threshold 1), shared by the bootloader and the app. */
extern const fleet_ota_trust_t FLOW_TRUST;

/* The vectors' device: product ids and time. */
fleet_ota_device_t flow_device(void);

/* Encodes the two heartbeats of the vectors through the C API (a key frame, then a delta frame)
 * into `frame` and checks each is byte-identical to telemetry-core's own encoding; sets the
 * instructions and bytes of each. `storage`: FLEET_OTA_HEARTBEAT_ENCODER_STORAGE_SIZE bytes. */
int flow_heartbeat(void *storage, uint8_t *frame, flow_clock clock, uint64_t instr[2],
                   size_t bytes[2], flow_failure *fail);

/* Streams the update image, `chunk` bytes per write (the last one shorter). */
fleet_ota_status_t flow_stream(fleet_ota_updater_t *up, uint32_t from, size_t chunk);
#endif
