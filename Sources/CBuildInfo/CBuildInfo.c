#include "CBuildInfo.h"

/* `make` writes git_revision.h (untracked) and touches this file when the revision
   changes, so only this object is rebuilt. A plain `swift build` has no such file. */
#if __has_include("git_revision.h")
#include "git_revision.h"
#endif
#ifndef BULKHEAD_GIT_REVISION
#define BULKHEAD_GIT_REVISION "unknown"
#endif

const char *bh_git_revision(void) { return BULKHEAD_GIT_REVISION; }
