// SPDX-License-Identifier: GPL-2.0
/* file domain: filled in by its own change. */
#include "common.bpf.h"
