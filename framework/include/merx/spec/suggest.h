// Forwarding header: the "did you mean" helpers moved to merx/suggest.h (merx_core), since merx_datasets
// uses them too and sits below merx_spec.
#pragma once

#include "merx/suggest.h"
