// Compiled only to produce the precompiled LibTorch header that merx_use_torch_pch() shares
// (framework/CMakeLists.txt); the executable variant is never run.
int main() { return 0; }
