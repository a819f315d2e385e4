// Package hugeheap backs the first part of the Go heap with transparent huge
// pages, so that a short run (one warm scan of a small image) does not pay a
// page fault for every 4 KiB its package initialisation and its work touch.
//
// Imported by main. Its init runs among the first packages (it imports only
// runtime, syscall and unsafe, and Go initialises every ready package in
// import-path order), before the dependencies that allocate most of the
// 2 MB package initialisation needs. It marks the heap arena MADV_HUGEPAGE
// (the part the runtime has mapped so far keeps the mark), and asks the
// kernel to collapse the 2 MiB range already in use into one huge page
// (MADV_COLLAPSE). Heap the runtime maps later gets its defaults. Both calls
// are best effort: a refusal changes nothing but the speed. Where page
// faults are dear (a virtual machine with shadow page tables: ~10 µs per
// fresh 4 KiB page against ~0.3 µs per 4 KiB with huge pages) a warm scan
// of a small image takes about 15 % less time; elsewhere it saves a few
// hundred faults.
//
// Nothing changes where the kernel has no transparent huge pages, or when
// GODEBUG=disablethp=1 (the runtime's own switch to keep huge pages off the
// heap). Memory: the 2 MiB ranges of that first mapping (a few MiB) that
// the process touches are resident whole.
package hugeheap
