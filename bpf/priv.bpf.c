// SPDX-License-Identifier: GPL-2.0
/* priv domain: filled in by its own change. */
#include "common.bpf.h"
