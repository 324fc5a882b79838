/* Scores rows with an exported model through the C API alone (include/cembed/c_api.h).
 *
 *   c_api_example MODEL.cem            reads rows from stdin, one per line: the dense
 *                                      values then one id per feature, space-separated
 *   c_api_example MODEL.cem --lines    reads raw lines in the training text format
 *
 * and prints one probability per row ("%.9g"). Exit status 1 and the API's error message on
 * stderr on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cembed/c_api.h"

static int fail(const char* what) {
  fprintf(stderr, "c_api_example: %s: %s\n", what, cembed_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: c_api_example MODEL.cem [--lines] < rows\n");
    return 2;
  }
  cembed_model* model = NULL;
  if (cembed_model_open(argv[1], &model) != 0) return fail("open");
  const int lines = argc > 2 && strcmp(argv[2], "--lines") == 0;
  const int64_t nd = cembed_model_num_dense(model), nf = cembed_model_num_features(model);
  float* dense = malloc(sizeof(float) * (size_t)nd);
  uint32_t* ids = malloc(sizeof(uint32_t) * (size_t)nf);
  char line[1 << 16];
  int status = 0;
  while (fgets(line, sizeof line, stdin) != NULL) {
    float p = 0;
    line[strcspn(line, "\r\n")] = '\0';
    if (lines) {
      const char* one[1] = {line};
      if (cembed_model_score_lines(model, 1, one, &p) != 0) {
        status = fail("score");
        break;
      }
    } else {
      char* s = line;
      for (int64_t i = 0; i < nd; ++i) dense[i] = strtof(s, &s);
      for (int64_t f = 0; f < nf; ++f) ids[f] = (uint32_t)strtoul(s, &s, 10);
      if (cembed_model_score(model, 1, dense, ids, &p) != 0) {
        status = fail("score");
        break;
      }
    }
    printf("%.9g\n", p);
  }
  free(dense);
  free(ids);
  cembed_model_close(model);
  return status;
}
