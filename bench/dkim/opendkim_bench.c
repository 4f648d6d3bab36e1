/* OpenDKIM's side of bench/dkim/run.sh: libopendkim (the library opendkim, the milter,
 * runs) signing or verifying the same message files as dkim_bench, CPU µs per message.
 *
 *   opendkim_bench sign   rsa|ed25519 KEY.pem SELECTOR DOMAIN PASSES FILE...
 *   opendkim_bench verify KEYS.txt PASSES FILE...
 *
 * Prints one line: "<op> <msgs> <failed> <cpu_us_per_msg>".
 *
 * Files are whole CRLF messages (dkim_bench --export writes them). They are read into
 * memory before timing; timed per message, as the milter does it: a new handle, every
 * header field to dkim_header (the field split here: the milter gets them from the MTA
 * already split, so this small cost is on OpenDKIM's side while ours parses the header
 * block itself), dkim_eoh, the body in one dkim_body call, dkim_eom, then the signature
 * field (dkim_getsighdr_d) or the result, and dkim_free. relaxed/relaxed. The key record
 * comes from a key-lookup callback over KEYS.txt ("<name> <TXT value>" lines) held in
 * memory, as dkim_bench's static_dns_client holds it: no DNS on either side.
 *
 * The header set: the names dkim_bench's signer (rspamd's default list) signs, the "(o)"
 * ones oversigned; OpenDKIM has no "(x)" (oversign only when present), so those are
 * signed as present. The CPU clock is the process's (CLOCK_PROCESS_CPUTIME_ID). */
#define _GNU_SOURCE
#include <opendkim/dkim.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct blob {
  unsigned char *data;
  size_t len;
};

static void die(const char *what) {
  fprintf(stderr, "opendkim_bench: %s\n", what);
  exit(1);
}

static struct blob read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) die(path);
  struct blob b = {NULL, 0};
  size_t cap = 0;
  for (;;) {
    if (b.len + 65536 > cap) {
      cap = cap ? cap * 2 : 131072;
      b.data = realloc(b.data, cap + 1);
      if (b.data == NULL) die("out of memory");
    }
    size_t n = fread(b.data + b.len, 1, cap - b.len, f);
    if (n == 0) break;
    b.len += n;
  }
  fclose(f);
  b.data[b.len] = '\0';
  return b;
}

/* The key records, "<name> <value>" per line. */
static char *key_names[8], *key_values[8];
static int nkeys;

static DKIM_CBSTAT key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, unsigned char *buf, size_t buflen) {
  (void)dkim;
  char name[512];
  snprintf(name, sizeof name, "%s._domainkey.%s", (const char *)dkim_sig_getselector(sig),
           (const char *)dkim_sig_getdomain(sig));
  for (int i = 0; i < nkeys; i++) {
    if (strcasecmp(name, key_names[i]) == 0 && strlen(key_values[i]) < buflen) {
      strcpy((char *)buf, key_values[i]);
      return DKIM_CBSTAT_CONTINUE;
    }
  }
  return DKIM_CBSTAT_NOTFOUND;
}

static void load_keys(const char *path) {
  struct blob b = read_all(path);
  for (char *line = strtok((char *)b.data, "\n"); line != NULL && nkeys < 8; line = strtok(NULL, "\n")) {
    char *space = strchr(line, ' ');
    if (space == NULL) continue;
    *space = '\0';
    key_names[nkeys] = line;
    key_values[nkeys] = space + 1;
    nkeys++;
  }
}

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Hands every header field (continuation lines included, final CRLF not) to dkim_header,
 * then the body. 0 on success. */
static int feed(DKIM *dkim, const struct blob *m) {
  const unsigned char *p = m->data, *end = m->data + m->len;
  const unsigned char *field = p;
  while (p < end) {
    const unsigned char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (eol == NULL) return -1;
    const unsigned char *next = eol + 2;
    if (eol == p) { /* the empty line: header block ends */
      if (field < p && dkim_header(dkim, (unsigned char *)field, (size_t)(p - 2 - field)) != DKIM_STAT_OK) return -1;
      if (dkim_eoh(dkim) != DKIM_STAT_OK) return -1;
      if (next < end && dkim_body(dkim, (unsigned char *)next, (size_t)(end - next)) != DKIM_STAT_OK) return -1;
      return 0;
    }
    if (p != field && *p != ' ' && *p != '\t') { /* a new field starts: pass the last */
      if (dkim_header(dkim, (unsigned char *)field, (size_t)(p - 2 - field)) != DKIM_STAT_OK) return -1;
      field = p;
    }
    p = next;
  }
  return -1;
}

static const char *sign_headers[] = {"from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
                                     "mime-version", "content-type", "content-transfer-encoding", "resent-to",
                                     "resent-cc", "resent-from", "resent-sender", "resent-message-id",
                                     "in-reply-to", "references", "list-id", "list-help", "list-owner",
                                     "list-unsubscribe", "list-unsubscribe-post", "list-subscribe", "list-post",
                                     "openpgp", "autocrypt", NULL};
static const char *oversign_headers[] = {"from", "reply-to", "subject", "to", "cc", NULL};

int main(int argc, char **argv) {
  if (argc < 4) die("usage: sign rsa|ed25519 KEY.pem SELECTOR DOMAIN PASSES FILE... | verify KEYS.txt PASSES FILE...");
  bool sign = strcmp(argv[1], "sign") == 0;
  int first = sign ? 7 : 4;
  if (argc < first + 1) die("missing arguments");
  int passes = atoi(argv[first - 1]);
  if (passes < 1) die("PASSES must be >= 1");

  DKIM_LIB *lib = dkim_init(NULL, NULL);
  if (lib == NULL) die("dkim_init failed");
  struct blob key = {NULL, 0};
  dkim_alg_t alg = DKIM_SIGN_RSASHA256;
  if (sign) {
    alg = strcmp(argv[2], "ed25519") == 0 ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256;
    key = read_all(argv[3]);
    if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, sign_headers, sizeof(char **)) != DKIM_STAT_OK ||
        dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, oversign_headers, sizeof(char **)) !=
            DKIM_STAT_OK)
      die("dkim_options (header lists) failed");
  } else {
    load_keys(argv[2]);
    dkim_set_key_lookup(lib, key_lookup);
  }

  int n = argc - first;
  struct blob *msgs = calloc((size_t)n, sizeof *msgs);
  for (int i = 0; i < n; i++) msgs[i] = read_all(argv[first + i]);

  long failed = 0;
  double t0 = cpu_seconds();
  for (int pass = 0; pass < passes; pass++) {
    for (int i = 0; i < n; i++) {
      DKIM_STAT st;
      DKIM *dkim = sign ? dkim_sign(lib, (const unsigned char *)"bench", NULL, (dkim_sigkey_t)key.data,
                                    (const unsigned char *)argv[4], (const unsigned char *)argv[5],
                                    DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, alg, -1, &st)
                        : dkim_verify(lib, (const unsigned char *)"bench", NULL, &st);
      if (dkim == NULL) die("dkim_sign/dkim_verify: no handle");
      bool ok = feed(dkim, &msgs[i]) == 0 && dkim_eom(dkim, NULL) == DKIM_STAT_OK;
      if (ok && sign) {
        unsigned char *hdr = NULL;
        size_t len = 0;
        ok = dkim_getsighdr_d(dkim, strlen("DKIM-Signature: "), &hdr, &len) == DKIM_STAT_OK && len > 0;
        /* OPENDKIM_BENCH_SHOW: the first message signed, to check it (run.sh verifies it). */
        if (ok && pass == 0 && i == 0 && getenv("OPENDKIM_BENCH_SHOW"))
          fprintf(stderr, "DKIM-Signature: %.*s\r\n%s", (int)len, hdr, (const char *)msgs[i].data);
      } else if (ok) {
        DKIM_SIGINFO *sig = dkim_getsignature(dkim);
        ok = sig != NULL && DKIM_SIG_CHECK(sig);
      }
      if (!ok) {
        failed++;
        if (getenv("OPENDKIM_BENCH_DEBUG")) fprintf(stderr, "%s: %s\n", argv[first + i], dkim_geterror(dkim));
      }
      dkim_free(dkim);
    }
  }
  double t1 = cpu_seconds();
  long total = (long)n * passes;
  printf("%s %d %ld %.1f\n", argv[1], n, failed / passes, (t1 - t0) * 1e6 / (double)total);
  dkim_close(lib);
  return 0;
}
