#include "flow.h"
#include <string.h>
#include "fleet_ota_vectors.h"

#define STEP(name, call)                       \
  do {                                         \
    uint64_t t0_ = clock();                    \
    fleet_ota_status_t st_ = (call);           \
    fig->name += clock() - t0_;                \
    if (st_ != FLEET_OTA_OK) {                 \
      fail->step = #name;                      \
      fail->status = st_;                      \
      return 1;                                \
    }                                          \
  } while (0)

#define EXPECT(what, cond)                     \
  do {                                         \
    if (!(cond)) {                             \
      fail->step = what;                       \
      fail->status = FLEET_OTA_OK;             \
      return 1;                                \
    }                                          \
  } while (0)

const fleet_ota_trust_t FLOW_TRUST = {.root_keys = &FV_ROOT_KEY, .root_count = 1, .threshold = 1};

fleet_ota_device_t flow_device(void) {
  fleet_ota_device_t device;
  memcpy(device.vendor_id, FV_VENDOR_ID, 16);
  memcpy(device.class_id, FV_CLASS_ID, 16);
  device.now = FV_NOW;
  return device;
}

int flow_factory(const fleet_ota_flash_t *flash, fleet_ota_image_info_t *info) {
  uint8_t chunk[256];
  uint32_t a = FLOW_LAYOUT.slot_a, b = FLOW_LAYOUT.slot_b;
  /* A factory programmer starts from a blank part: both slots erased (slot B's trailer of an
   * earlier life would otherwise still count, e.g. its confirm record's floor). */
  if (flash->erase(flash->ctx, a, a + FLOW_LAYOUT.slot_size) != 0) return 1;
  if (flash->erase(flash->ctx, b, b + FLOW_LAYOUT.slot_size) != 0) return 1;
  for (uint32_t at = 0; at < FV_FACTORY_LEN; at += sizeof chunk) {
    for (uint32_t i = 0; i < sizeof chunk; i++) chunk[i] = fv_factory_byte(at + i);
    if (flash->write(flash->ctx, a + at, chunk, sizeof chunk) != 0) return 1;
  }
  memset(info, 0, sizeof *info);
  info->sequence = 1;
  info->version.major = 1;
  info->security_version = 1;
  info->image_size = FV_FACTORY_LEN;
  memcpy(info->image_digest, FV_FACTORY_DIGEST, 32);
  return 0;
}

fleet_ota_status_t flow_stream(fleet_ota_updater_t *up, uint32_t from, size_t chunk) {
  uint8_t buf[1024];
  if (chunk > sizeof buf) chunk = sizeof buf;
  for (uint32_t at = from; at < FV_IMAGE_LEN;) {
    size_t n = FV_IMAGE_LEN - at < chunk ? FV_IMAGE_LEN - at : chunk;
    for (size_t i = 0; i < n; i++) buf[i] = fv_image_byte(at + (uint32_t)i);
    fleet_ota_status_t st = fleet_ota_updater_write(up, buf, n);
    if (st != FLEET_OTA_OK) return st;
    at += (uint32_t)n;
  }
  return FLEET_OTA_OK;
}

static int is_boot(const fleet_ota_decision_t *d, fleet_ota_slot_t slot,
                   fleet_ota_boot_reason_t reason, uint16_t minor) {
  return d->bootable == 1 && d->slot == slot && d->reason == reason && d->version.major == 1 &&
         d->version.minor == minor;
}

/* Receives the encrypted image segment by segment (here: from the vectors), decrypts each in
 * place and writes its plaintext; decryption and writing are timed apart. */
static fleet_ota_status_t stream_encrypted(fleet_ota_updater_t *up, fleet_ota_decryptor_t *dec,
                                           flow_clock clock, flow_figures *fig) {
  static uint8_t seg[4096 + FLEET_OTA_SEGMENT_TAG_LEN];
  size_t received = 0, next = 0, plain = 0;
  for (;;) {
    fleet_ota_status_t st = fleet_ota_decryptor_next_len(dec, &next);
    if (st != FLEET_OTA_OK) return st;
    if (next == 0) break;
    if (next > sizeof seg || received + next > sizeof FV_ENC_IMAGE) return FLEET_OTA_ERR_BAD_LENGTH;
    memcpy(seg, FV_ENC_IMAGE + received, next);
    received += next;
    uint64_t t0 = clock();
    st = fleet_ota_decryptor_decrypt(dec, seg, next, &plain);
    uint64_t t1 = clock();
    fig->decrypt += t1 - t0;
    if (st != FLEET_OTA_OK) return st;
    st = fleet_ota_updater_write(up, seg, plain);
    fig->write += clock() - t1;
    if (st != FLEET_OTA_OK) return st;
  }
  return fleet_ota_decryptor_close(dec);
}

int flow_full_update(const fleet_ota_flash_t *flash, void *storage, size_t storage_len,
                     void *dec_storage, flow_clock clock, flow_figures *fig, flow_failure *fail) {
  fleet_ota_decryptor_t *dec = NULL;
  const uint8_t *envelope = dec_storage ? FV_ENC_ENVELOPE : FV_ENVELOPE;
  size_t envelope_len = dec_storage ? sizeof FV_ENC_ENVELOPE : sizeof FV_ENVELOPE;
  uint64_t sequence = dec_storage ? 5 : 3;
  fleet_ota_image_info_t factory, image;
  fleet_ota_decision_t d;
  fleet_ota_state_t state;
  fleet_ota_updater_t *up = NULL;
  uint32_t offset = 1;
  const fleet_ota_trust_t *trust = &FLOW_TRUST;
  const fleet_ota_device_t device = flow_device();
  memset(fig, 0, sizeof *fig);

  EXPECT("factory programming", flow_factory(flash, &factory) == 0);
  STEP(provision, fleet_ota_provision(flash, &FLOW_LAYOUT, 0, FV_FACTORY_ENVELOPE, sizeof FV_FACTORY_ENVELOPE));
  STEP(decide_factory, fleet_ota_decide(flash, &FLOW_LAYOUT, trust, &device, &d));
  EXPECT("decide boots the factory image", is_boot(&d, FLEET_OTA_SLOT_A, FLEET_OTA_BOOT_CONFIRMED, 0));

  /* The application (running from the slot decide booted) downloads the update. */
  STEP(open, fleet_ota_updater_open_running(storage, storage_len, flash, &FLOW_LAYOUT,
                                            (uint8_t)d.slot, &up));
  STEP(verify, fleet_ota_updater_verify(up, envelope, envelope_len, trust, &device, &image));
  EXPECT("verified image info", image.image_size == FV_IMAGE_LEN && image.sequence == sequence &&
                                    image.encrypted == (dec_storage != NULL) &&
                                    image.version.minor == 1 && image.security_version == 2 &&
                                    memcmp(image.image_digest, FV_IMAGE_DIGEST, 32) == 0);
  STEP(begin, fleet_ota_updater_begin(up, &offset));
  EXPECT("a new update starts at offset 0", offset == 0);
  if (dec_storage) {
    STEP(begin, fleet_ota_decryptor_open(dec_storage, FLEET_OTA_DECRYPTOR_STORAGE_SIZE, up,
                                         FV_IMAGE_KEY, &dec));
    fleet_ota_status_t st = stream_encrypted(up, dec, clock, fig);
    if (st != FLEET_OTA_OK) {
      fail->step = "decrypt and write";
      fail->status = st;
      return 1;
    }
  } else {
    STEP(write, flow_stream(up, 0, 1000));
  }
  STEP(finish, fleet_ota_updater_finish(up));
  STEP(activate, fleet_ota_updater_activate(up));
  EXPECT("close", fleet_ota_updater_close(up) == FLEET_OTA_OK);

  /* Reset: the bootloader boots the trial. */
  STEP(decide_trial, fleet_ota_decide(flash, &FLOW_LAYOUT, trust, &device, &d));
  EXPECT("decide boots slot B as a trial",
         is_boot(&d, FLEET_OTA_SLOT_B, FLEET_OTA_BOOT_TRIAL, 1) && d.attempts_left == 2);

  /* The new image passes its self-test and confirms. */
  STEP(reopen, fleet_ota_updater_open_running(storage, storage_len, flash, &FLOW_LAYOUT,
                                              (uint8_t)d.slot, &up));
  EXPECT("state", fleet_ota_updater_state(up, &state) == FLEET_OTA_OK);
  EXPECT("the state is a trial of 1.1.0",
         state.phase == FLEET_OTA_PHASE_TRIAL && state.has_pending == 1 &&
             state.pending.version.minor == 1 && state.security_floor == 1);
  STEP(confirm, fleet_ota_updater_confirm(up));
  EXPECT("state", fleet_ota_updater_state(up, &state) == FLEET_OTA_OK);
  EXPECT("confirm raised the floor and accepted the sequence",
         state.phase == FLEET_OTA_PHASE_IDLE && state.security_floor == 2 &&
             state.accepted_sequence == sequence && state.confirmed_slot == FLEET_OTA_SLOT_B &&
             state.last_event == FLEET_OTA_EVENT_CONFIRMED);
  EXPECT("close", fleet_ota_updater_close(up) == FLEET_OTA_OK);

  /* Reset: the new image is the confirmed one. */
  STEP(decide_confirmed, fleet_ota_decide(flash, &FLOW_LAYOUT, trust, &device, &d));
  EXPECT("decide boots slot B as confirmed", is_boot(&d, FLEET_OTA_SLOT_B, FLEET_OTA_BOOT_CONFIRMED, 1));
  return 0;
}

int flow_heartbeat(void *storage, uint8_t *frame, flow_clock clock, uint64_t instr[2],
                   size_t bytes[2], flow_failure *fail) {
  fleet_ota_heartbeat_encoder_t *enc = NULL;
  fleet_ota_sample_t samples[FLEET_OTA_HEARTBEAT_MAX_METRICS];
  fleet_ota_status_t st = fleet_ota_heartbeat_encoder_open(
      storage, FLEET_OTA_HEARTBEAT_ENCODER_STORAGE_SIZE, 24, &enc);
  if (st != FLEET_OTA_OK) {
    fail->step = "heartbeat encoder open";
    fail->status = st;
    return 1;
  }
  for (uint32_t k = 0; k < 2; k++) {
    size_t count = k ? FV_HB1_COUNT : FV_HB0_COUNT;
    for (size_t i = 0; i < count; i++) {
      samples[i].id = k ? FV_HB1_SAMPLES[i].id : FV_HB0_SAMPLES[i].id;
      samples[i].kind = k ? FV_HB1_SAMPLES[i].kind : FV_HB0_SAMPLES[i].kind;
      samples[i].gauge_fields = k ? FV_HB1_SAMPLES[i].fields : FV_HB0_SAMPLES[i].fields;
      for (int j = 0; j < 4; j++)
        samples[i].values[j] = k ? FV_HB1_SAMPLES[i].v[j] : FV_HB0_SAMPLES[i].v[j];
    }
    fleet_ota_heartbeat_t hb = {.boot_id = 7, .seq = k, .start_uptime_s = 3600 * k,
                                .len_s = 3600, .has_wall_start = 0, .complete = 1,
                                .continued = 0, .wall_start_unix_s = 0};
    uint64_t t0 = clock();
    st = fleet_ota_heartbeat_encode(enc, &hb, samples, count, frame,
                                    FLEET_OTA_HEARTBEAT_MAX_FRAME_LEN, &bytes[k]);
    instr[k] = clock() - t0;
    if (st != FLEET_OTA_OK) {
      fail->step = "heartbeat encode";
      fail->status = st;
      return 1;
    }
    const uint8_t *want = k ? FV_HB1_FRAME : FV_HB0_FRAME;
    size_t want_len = k ? sizeof FV_HB1_FRAME : sizeof FV_HB0_FRAME;
    EXPECT("heartbeat frame is byte-identical to telemetry-core's",
           bytes[k] == want_len && memcmp(frame, want, want_len) == 0);
  }
  EXPECT("heartbeat encoder close", fleet_ota_heartbeat_encoder_close(enc) == FLEET_OTA_OK);
  return 0;
}
