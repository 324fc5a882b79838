/* The C API of cembed's inference model: open an exported model (.cem, `cembed export`),
 * score rows, close it. Plain C: no C++ type crosses it, nothing throws across it, so C,
 * Python ctypes, Go (cgo) or Rust (FFI) bind it directly. Library: libcembed.so.
 *
 * Errors: a function that can fail returns 0 on success and -1 on failure; the failure's
 * message (naming the file, the row, the field) is then cembed_last_error(), kept per
 * thread until that thread's next call.
 *
 * Threads: one model may be used from several threads; its calls run one at a time (each
 * uses the OpenMP threads set by cembed_set_threads). Pages of the file are shared between
 * processes that open the same model. */
#ifndef CEMBED_C_API_H
#define CEMBED_C_API_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cembed_model cembed_model; /* opaque */

/* Opens and validates `path`; *out receives the model (NULL on failure). */
int cembed_model_open(const char* path, cembed_model** out);
/* Releases the model (NULL is ignored). */
void cembed_model_close(cembed_model* model);

/* The model's inputs: dense values and categorical features per row. */
int64_t cembed_model_num_dense(const cembed_model* model);
int64_t cembed_model_num_features(const cembed_model* model);

/* Probabilities of `rows` rows: dense is rows x num_dense floats, ids is rows x
 * num_features value ids (one per feature, as in the prepared dataset; 0 is the
 * out-of-vocabulary id), out receives rows probabilities. Ids out of range fail. */
int cembed_model_score(cembed_model* model, int64_t rows, const float* dense, const uint32_t* ids, float* out);

/* Whether the model carries a vocabulary (exported with --vocabulary), and the
 * probabilities of raw rows: `lines` holds `rows` NUL-terminated lines in the training text
 * format of the vocabulary's data (Criteo TSV, Avazu CSV, libFM; the label field first, as
 * in training files, ignored), values mapped through the vocabulary (unknown: id 0). */
int cembed_model_has_vocabulary(const cembed_model* model);
int cembed_model_score_lines(cembed_model* model, int64_t rows, const char* const* lines, float* out);

/* Threads used inside each call (OpenMP), process-wide; <= 0: all cores. */
void cembed_set_threads(int threads);

/* The message of this thread's last failure ("" when none). */
const char* cembed_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* CEMBED_C_API_H */
