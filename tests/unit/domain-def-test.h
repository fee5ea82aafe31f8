/* What the domain definition's unit tests share: test data, parsing, and
 * the round trip every accepted definition must survive. */
#pragma once

#include "domain-def.h"

/* @name in the directory @env names, below @sub; NULL if @env is unset. */
char *data_path(const char *env, const char *sub, const char *name);
DomainDef *parse_ok(const char *xml);
/* Every field the parser extracts, disks and character devices included. */
void assert_defs_equal(const DomainDef *a, const DomainDef *b);
/* parse(format(parse(x))): equal fields and identical text; a copy too. */
void assert_round_trip(const char *xml);

void domain_def_corpus_add_tests(void);
