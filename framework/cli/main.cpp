#include <cstdio>
int main() { std::puts("merx"); return 0; }
