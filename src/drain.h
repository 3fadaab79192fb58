/* The drain daemon's entry point. */
#ifndef DRAIN_H
#define DRAIN_H

int	 drain_main(struct conf *, int);

#endif /* DRAIN_H */
