/* qbench's QEMU TCG plugin: records which translated blocks a run executes, in order, so that every occurrence
 * of every measured region is counted over the whole run at close to emulation speed (qbench.execution.counting
 * reads what it writes).
 *
 * It writes two files:
 *   <out>        little-endian 32-bit words, one per executed block (its translation number, below 2^31), and
 *                one per store the region marker (qbench_region_begin) makes into the region marks (2^31 + the
 *                mark's offset: the region number, since this plugin API shows where a store goes but not the
 *                registers);
 *   <out>.blocks one line per translation, "<number> <pc> <pc> ...", the block's instructions in hex, then
 *                "stack <lowest>" when the program used its stack: the lowest stack pointer an access showed.
 *
 * The stack pointer is not readable through the plugin API of QEMU 7.2, so it is read off the accesses made
 * through it (decoded once per translation): a push or a store that writes SP back stores at the new stack
 * pointer, and an SP-relative load or store with an immediate offset tells the stack pointer exactly
 * (address - offset). Compiled code touches every frame it reserves that way, so the lowest value seen is the
 * deepest the stack pointer went; other stores (the start-up code painting the stack) are not watched.
 *
 * The plugin API is QEMU's (docs/devel/tcg-plugins.rst, API version 1 as QEMU 7.2 ships it); Debian packages no
 * header for it, so the few declarations used are written out here.
 *
 * Arguments: out=PATH, marker=ADDRESS (qbench_region_begin), marks=ADDRESS, marks_size=BYTES, stack_low=ADDRESS,
 * stack_high=ADDRESS (hex or decimal).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API (version 1) ---------------------------------------------------------------------- */
typedef uint64_t qemu_plugin_id_t;
typedef uint32_t qemu_plugin_meminfo_t;
typedef struct {
    const char *target_name;
    struct {
        int min;
        int cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    };
} qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_MEM_RW };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr,
                                          void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t index);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* ---- what the plugin records -------------------------------------------------------------------------- */
#define MARK_WORD 0x80000000u

static FILE *events, *blocks;
static uint32_t buffer[1 << 16];  /* events are written in chunks: one fwrite per 256 KiB */
static size_t buffered;
static uint32_t translations;
static uint64_t marker, marks, marks_end, stack_low, stack_high, lowest_stack = UINT64_MAX;

static void put(uint32_t word) {
    if (buffered == sizeof buffer / sizeof buffer[0]) {
        fwrite(buffer, sizeof buffer[0], buffered, events);
        buffered = 0;
    }
    buffer[buffered++] = word;
}

static void block_executed(unsigned int vcpu, void *translation) {
    (void)vcpu;
    put((uint32_t)(uintptr_t)translation);
}

static void mark_stored(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t address, void *userdata) {
    (void)vcpu;
    (void)info;
    (void)userdata;
    if (address >= marks && address < marks_end) {
        put(MARK_WORD + (uint32_t)(address - marks));
    }
}

/* userdata: the access's offset above the stack pointer (0 for a push: it stores at the new stack pointer). */
static void stack_accessed(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t address, void *offset) {
    (void)vcpu;
    (void)info;
    uint64_t stack_pointer = address - (uintptr_t)offset;
    if (address >= stack_low && address < stack_high && stack_pointer < lowest_stack) {
        lowest_stack = stack_pointer;
    }
}

/* How far above the stack pointer a Thumb instruction accesses memory: the immediate of a load or store
 * [SP, #imm] (no writeback), 0 for a push or a store that writes the stack pointer back; -1 for any other. */
static long stack_offset(const uint8_t *bytes, size_t size) {
    unsigned first = bytes[0] | bytes[1] << 8;
    if (size == 2) {
        if ((first & 0xF000) == 0x9000) { /* LDR/STR Rt, [SP, #imm8*4] */
            return (long)(first & 0xFF) << 2;
        }
        return (first & 0xFE00) == 0xB400 ? 0 : -1; /* PUSH */
    }
    unsigned second = bytes[2] | bytes[3] << 8;
    if ((first & 0xFF8F) == 0xF88D) { /* LDR/STR{B,H}.W Rt, [SP, #imm12] */
        return second & 0xFFF;
    }
    if ((first & 0xFFEF) == 0xE9CD || (first & 0xFFAF) == 0xED8D) { /* LDRD/STRD, VLDR/VSTR [SP, #+imm8*4] */
        return (long)(second & 0xFF) << 2;
    }
    bool push = first == 0xE92D || (first & 0xFFBF) == 0xED2D; /* STMDB SP! (PUSH.W), VSTMDB SP! (VPUSH) */
    bool store_back = ((first & 0xFF9F) == 0xF80D && (second & 0x0D00) == 0x0D00) || /* STR{B,H} [SP, #imm]! */
                      (first & 0xFF7F) == 0xE96D;                                     /* STRD [SP, #imm]! */
    return push || store_back ? 0 : -1;
}

static void block_translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    uint32_t number = translations++;
    size_t count = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_cb(tb, block_executed, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)number);
    fprintf(blocks, "%u", number);
    for (size_t index = 0; index < count; ++index) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, index);
        uint64_t address = qemu_plugin_insn_vaddr(insn);
        fprintf(blocks, " %llx", (unsigned long long)address);
        if (index == 0 && address == marker) { /* the marker's own stores: where it stores numbers the region */
            for (size_t store = 0; store < count; ++store) {
                qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, store), mark_stored,
                                                 QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_W, NULL);
            }
        }
        long offset = stack_offset(qemu_plugin_insn_data(insn), qemu_plugin_insn_size(insn));
        if (offset >= 0) {
            qemu_plugin_register_vcpu_mem_cb(insn, stack_accessed, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW,
                                             (void *)(uintptr_t)offset);
        }
    }
    fputc('\n', blocks);
}

static void run_ended(qemu_plugin_id_t id, void *userdata) {
    (void)id;
    (void)userdata;
    fwrite(buffer, sizeof buffer[0], buffered, events);
    if (lowest_stack != UINT64_MAX) {
        fprintf(blocks, "stack %llx\n", (unsigned long long)lowest_stack);
    }
    fclose(events);
    fclose(blocks);
}

static bool argument(const char *text, const char *name, uint64_t *value) {
    size_t length = strlen(name);
    if (strncmp(text, name, length) != 0 || text[length] != '=') {
        return false;
    }
    *value = strtoull(text + length + 1, NULL, 0);
    return true;
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv) {
    const char *out = NULL;
    uint64_t marks_size = 0;
    if (!info->system_emulation || info->system.smp_vcpus != 1) {
        qemu_plugin_outs("qbench block trace: needs system emulation with one CPU\n");
        return -1;
    }
    for (int index = 0; index < argc; ++index) {
        if (strncmp(argv[index], "out=", 4) == 0) {
            out = argv[index] + 4;
        } else if (!argument(argv[index], "marker", &marker) && !argument(argv[index], "marks", &marks) &&
                   !argument(argv[index], "marks_size", &marks_size) &&
                   !argument(argv[index], "stack_low", &stack_low) &&
                   !argument(argv[index], "stack_high", &stack_high)) {
            qemu_plugin_outs("qbench block trace: unknown argument\n");
            return -1;
        }
    }
    marks_end = marks + marks_size;
    if (out == NULL) {
        qemu_plugin_outs("qbench block trace: needs out=PATH\n");
        return -1;
    }
    char table[4096];
    if (snprintf(table, sizeof table, "%s.blocks", out) >= (int)sizeof table ||
        (events = fopen(out, "wb")) == NULL || (blocks = fopen(table, "w")) == NULL) {
        qemu_plugin_outs("qbench block trace: cannot write its output\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, block_translated);
    qemu_plugin_register_atexit_cb(id, run_ended, NULL);
    return 0;
}
