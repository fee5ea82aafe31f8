/* Runs a fuzz target over every file of the corpus directories (or files)
 * given on the command line: the corpus becomes a regression test in every
 * build, with or without libFuzzer. */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        g_autofree char *contents = NULL;
        gsize len = 0;
        g_autoptr(GError) error = NULL;

        if (!g_file_get_contents(path, &contents, &len, &error)) {
                fprintf(stderr, "Failed to read %s: %s\n", path, error->message);
                return 1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *) contents, len);
        return 0;
}

int main(int argc, char **argv) {
        unsigned n = 0;

        for (int i = 1; i < argc; i++) {
                if (!g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
                        if (run_file(argv[i]) != 0)
                                return 1;
                        n++;
                        continue;
                }
                g_autoptr(GDir) dir = g_dir_open(argv[i], 0, NULL);
                const char *entry;
                if (!dir) {
                        fprintf(stderr, "Failed to open corpus %s\n", argv[i]);
                        return 1;
                }
                while ((entry = g_dir_read_name(dir))) {
                        g_autofree char *path = g_build_filename(argv[i], entry, NULL);
                        if (run_file(path) != 0)
                                return 1;
                        n++;
                }
        }
        if (n == 0) {
                fprintf(stderr, "No corpus input found\n");
                return 1;
        }
        printf("%u corpus inputs replayed\n", n);
        return 0;
}
