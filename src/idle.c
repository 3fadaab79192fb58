/*
 * The idle daemon's footprint.  Start-up and a delivery run touch far
 * more code than the idle loop (configuration, NSS, the CA bundle, TLS,
 * SASL), and the kernel maps file pages in around each fault, so the
 * resident set of a daemon that waits for mail is mostly program text it
 * will not run again until the next message.  Before it sleeps, the
 * daemon hands back its free heap and unmaps its text: the next run maps
 * what it needs again from the page cache (minor faults, no I/O).
 *
 * Only executable, never-writable segments are dropped, of objects
 * without text relocations.  Their pages are clean private file pages,
 * identical to the file.  A writable or RELRO segment, or text the
 * loader relocated, holds private copies that MADV_DONTNEED would throw
 * away, so those are never touched.
 */
#include <sys/mman.h>

#include <link.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "relayq.h"
#include "drain.h"

/* DT_TEXTREL: the loader wrote into this object's text */
static int
idle_textrel(const struct dl_phdr_info *info)
{
	const ElfW(Dyn)	*d;
	int		 i;

	for (i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type != PT_DYNAMIC)
			continue;
		d = (const ElfW(Dyn) *)(info->dlpi_addr +
		    info->dlpi_phdr[i].p_vaddr);
		for (; d->d_tag != DT_NULL; d++)
			if (d->d_tag == DT_TEXTREL || (d->d_tag == DT_FLAGS &&
			    (d->d_un.d_val & DF_TEXTREL)))
				return 1;
	}
	return 0;
}

static int
idle_unmap_text(struct dl_phdr_info *info, size_t size, void *arg)
{
	const ElfW(Phdr)	*ph;
	uintptr_t		 start, end, page = *(uintptr_t *)arg;
	int			 i;

	(void)size;
	/* the vDSO is the kernel's, not a file: leave it */
	if (strncmp(info->dlpi_name, "linux-vdso", 10) == 0 ||
	    strncmp(info->dlpi_name, "linux-gate", 10) == 0 ||
	    idle_textrel(info))
		return 0;
	for (i = 0; i < info->dlpi_phnum; i++) {
		ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) ||
		    (ph->p_flags & PF_W))
			continue;
		/* inward: a page shared with a neighbouring segment stays */
		start = (info->dlpi_addr + ph->p_vaddr + page - 1) & ~(page - 1);
		end = (info->dlpi_addr + ph->p_vaddr + ph->p_filesz) &
		    ~(page - 1);
		if (end > start)
			(void)madvise((void *)start, end - start,
			    MADV_DONTNEED);
	}
	return 0;
}

/* Called by the daemon before it sleeps with nothing to do. */
void
idle_trim(void)
{
	uintptr_t	 page = (uintptr_t)sysconf(_SC_PAGESIZE);

	(void)malloc_trim(0);
	(void)dl_iterate_phdr(idle_unmap_text, &page);
}
