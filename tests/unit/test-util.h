/* Helpers the core's unit tests share. */
#pragma once

/* Removes @path and everything below it (a test's temporary directory);
 * symbolic links are removed, never followed. */
void test_remove_tree(const char *path);
