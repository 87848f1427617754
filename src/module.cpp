// The library's entry: module magic and _PG_init.
#include "pg/postgres.hpp"
#include "pg/settings.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
}

void _PG_init(void) {
  idempotency::pg::define_client_settings();
  MarkGUCPrefixReserved("idempotency");
}
