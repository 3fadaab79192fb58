/*
 * Queue files as the daemon finds them (the drop directory is writable
 * by local users, so a file there may be planted): spool_load_fd
 * (spool_parse_envelope, spool_check_trailer), spool_check_data on what
 * it accepted, and spool_parse_state on the same bytes; spool_salvage
 * (the quarantine's reader) on what it refused.
 * Oracle: an accepted file has a consistent envelope and data that lies
 * inside the file; so does the salvage of a committed one, with valid
 * recipients only, or an empty address for one it could not read (it
 * keeps its place: the state file counts recipients by position).
 */
#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmsg	 m;
	char		 err[512];
	size_t		 i;
	int		 fd;

	fd = fuzz_file(data, size, NULL);
	if (spool_load_fd(fd, &m, err, sizeof(err)) == 0) {
		if (m.nrcpt == 0 || m.sender == NULL || m.dataoff < 0 ||
		    m.datalen < 0 || (size_t)(m.dataoff + m.datalen) > size ||
		    !spool_id_ok(m.id))
			abort();
		for (i = 0; i < m.nrcpt; i++)
			if (!addr_valid(m.rcpt[i].addr))
				abort();
		(void)spool_check_data(fd, m.dataoff, m.datalen, err,
		    sizeof(err));
		(void)spool_parse_state((const char *)data, size, &m);
		m.fd = -1;	/* the scratch file is reused */
		spool_free_msg(&m);
	} else if (spool_salvage(fd, &m) == 0) {
		if (m.dataoff < 2 || m.datalen < 0 || m.fd != -1 ||
		    (size_t)(m.dataoff + m.datalen) > size ||
		    m.nrcpt > SPOOL_RCPTMAX ||
		    (m.sender != NULL && m.sender[0] != '\0' &&
		    !addr_valid(m.sender)))
			abort();
		for (i = 0; i < m.nrcpt; i++)
			if (m.rcpt[i].addr[0] != '\0' &&
			    !addr_valid(m.rcpt[i].addr))
				abort();
		spool_free_msg(&m);
	} else
		spool_free_msg(&m);
	return 0;
}
