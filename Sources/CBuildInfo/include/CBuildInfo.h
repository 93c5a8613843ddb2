#ifndef BULKHEAD_CBUILDINFO_H
#define BULKHEAD_CBUILDINFO_H

/* The git revision this build was made from (`git describe --always --dirty`),
   or "unknown" when built without the Makefile. */
const char *bh_git_revision(void);

#endif
