/*
 * power.c: a QEMU TCG plugin that counts guest instructions, and cuts the power.
 *
 * It is how the bootloader harness stops the emulated machine at an exact point from outside:
 *
 *   -plugin power.so,out=FILE[,cut=N][,mark=LO-HI]...
 *
 * - counts the instructions the guest executes (per translation block, at its start);
 * - cut=N: when the next block would take the count past N, the process ends at once with
 *   status 77, as if the power failed: RAM and registers are gone, and only what the flash
 *   driver already mirrored to the host's flash file persists;
 * - mark=LO-HI (up to 8): records the count when execution first enters [LO, HI), e.g. the
 *   first instruction of the application (so "instructions from reset to the jump");
 * - range=LO-HI (up to 8): counts the instructions of the blocks that start in [LO, HI), e.g.
 *   one function's share of a run;
 * - records the count at the last semihosting call (`bkpt 0xab`): the end of the run's
 *   interesting part, before a hang or a watchdog wait;
 * - FILE receives `instructions=`, `last_semihosting=`, `mark<i>=`, `range<i>=` and, after a
 *   cut, `cut=`.
 *
 * Only the plugin API that QEMU 7.2 (plugin API version 1) exports is used; the few functions
 * are declared below rather than taken from QEMU's header, which Debian does not ship.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
struct qemu_info_t;
enum { CB_NO_REGS = 0 };

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
    void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
    void (*cb)(unsigned int, void *), int flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
    void (*cb)(unsigned int, void *), int flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
    void (*cb)(qemu_plugin_id_t, void *), void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define MAX_MARKS 8
static uint64_t count, cut_at, last_semihosting;
static int cutting;
static int n_marks;
static uint64_t mark_lo[MAX_MARKS], mark_hi[MAX_MARKS], mark_at[MAX_MARKS];
static int mark_seen[MAX_MARKS];
static int n_ranges;
static uint64_t range_lo[MAX_MARKS], range_hi[MAX_MARKS], range_count[MAX_MARKS];
static char out_path[4096];

static void report(const char *extra)
{
    FILE *f = fopen(out_path, "w");
    if (!f) {
        return;
    }
    fprintf(f, "instructions=%" PRIu64 "\nlast_semihosting=%" PRIu64 "\n", count,
            last_semihosting);
    for (int i = 0; i < n_marks; i++) {
        if (mark_seen[i]) {
            fprintf(f, "mark%d=%" PRIu64 "\n", i, mark_at[i]);
        }
    }
    for (int i = 0; i < n_ranges; i++) {
        fprintf(f, "range%d=%" PRIu64 "\n", i, range_count[i]);
    }
    if (extra) {
        fputs(extra, f);
    }
    fclose(f);
}

/* Called at the start of every executed block, with its instruction count. */
static void block(unsigned int vcpu, void *udata)
{
    uint64_t n = (uint64_t)(uintptr_t)udata;
    if (cutting && count + n > cut_at) {
        char line[64];
        snprintf(line, sizeof line, "cut=%" PRIu64 "\n", count);
        report(line);
        _exit(77);
    }
    count += n;
}

/* The first block of a marked range. */
static void marked(unsigned int vcpu, void *udata)
{
    int i = (int)(uintptr_t)udata;
    if (!mark_seen[i]) {
        mark_seen[i] = 1;
        mark_at[i] = count;
    }
}

/* A block that starts in a counted range: udata packs the range index and the block's size. */
static void ranged(unsigned int vcpu, void *udata)
{
    uint64_t packed = (uint64_t)(uintptr_t)udata;
    range_count[packed & 7] += packed >> 3;
}

static void semihosting(unsigned int vcpu, void *udata)
{
    last_semihosting = count;
}

static void translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t pc = qemu_plugin_tb_vaddr(tb);
    /* Marks first: a marked block records the count before its own instructions. */
    for (int i = 0; i < n_marks; i++) {
        if (pc >= mark_lo[i] && pc < mark_hi[i]) {
            qemu_plugin_register_vcpu_tb_exec_cb(tb, marked, CB_NO_REGS, (void *)(uintptr_t)i);
        }
    }
    for (int i = 0; i < n_ranges; i++) {
        if (pc >= range_lo[i] && pc < range_hi[i]) {
            qemu_plugin_register_vcpu_tb_exec_cb(tb, ranged, CB_NO_REGS,
                                                 (void *)(uintptr_t)((n << 3) | (uint64_t)i));
        }
    }
    qemu_plugin_register_vcpu_tb_exec_cb(tb, block, CB_NO_REGS, (void *)(uintptr_t)n);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const uint8_t *b = qemu_plugin_insn_data(insn);
        if (qemu_plugin_insn_size(insn) == 2 && b[0] == 0xab && b[1] == 0xbe) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, semihosting, CB_NO_REGS, NULL);
        }
    }
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
    report(NULL);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
    const struct qemu_info_t *info, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "out=", 4) == 0) {
            snprintf(out_path, sizeof out_path, "%s", a + 4);
        } else if (strncmp(a, "cut=", 4) == 0) {
            cut_at = strtoull(a + 4, NULL, 0);
            cutting = 1;
        } else if (strncmp(a, "mark=", 5) == 0 && n_marks < MAX_MARKS) {
            char *end;
            mark_lo[n_marks] = strtoull(a + 5, &end, 0);
            mark_hi[n_marks] = (*end == '-') ? strtoull(end + 1, NULL, 0) : mark_lo[n_marks] + 1;
            n_marks++;
        } else if (strncmp(a, "range=", 6) == 0 && n_ranges < MAX_MARKS) {
            char *end;
            range_lo[n_ranges] = strtoull(a + 6, &end, 0);
            range_hi[n_ranges] = (*end == '-') ? strtoull(end + 1, NULL, 0) : range_lo[n_ranges] + 1;
            n_ranges++;
        } else {
            fprintf(stderr, "power.so: unknown argument %s\n", a);
            return -1;
        }
    }
    if (!out_path[0]) {
        fprintf(stderr, "power.so: out=FILE is required\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, translate);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
