/* The configuration reader of agent.conf and subsystem.conf (in the way
 * of OpenSSH's readconf.c and tmux's cfg.c): words and "quoted strings",
 * comments, optional { } blocks, and a keyword table that says where each
 * keyword may appear, how many arguments it takes and what reads them.
 * Every error it returns names FILE:LINE. */
#ifndef RNSPLICE_CFG_H
#define RNSPLICE_CFG_H

#include <stddef.h>

#define CFG_MAXFILE	(1024 * 1024)
#define CFG_MAXLINE	4096
#define CFG_MAXWORDS	128
#define CFG_MAXDEPTH	2	/* blocks within blocks */

/* Contexts, a bit each: the top level, and one per kind of block. */
#define CFG_TOP		0x1

enum cfg_type {
	CFG_FN,		/* fn reads the arguments */
	CFG_YESNO,	/* one yes/no into the int at off */
	CFG_UINT	/* one number in min..max into the unsigned int at off */
};

#define CFG_ONCE	0x1	/* an error to give it twice in one context */

struct cfg_ctx {
	const char	*file;
	unsigned int	 line;		/* of the statement being read */
	void		*arg;		/* the caller's */
	void		*block;		/* set by a block keyword's fn; NULL
					 * at the top level */
};

struct cfg_keyword;
/* argv holds the arguments (not the keyword). On error: -1 and *cause
 * (allocated), which the reader prefixes with FILE:LINE. A block
 * keyword's fn sets ctx->block for the keywords of its block. */
typedef int (*cfg_fn)(struct cfg_ctx *, const struct cfg_keyword *,
    int argc, char **argv, char **cause);

struct cfg_keyword {
	const char	*name;
	unsigned int	 where;		/* contexts it may appear in */
	unsigned int	 opens;		/* a block keyword: its block's
					 * context; 0: a statement */
	enum cfg_type	 type;
	int		 flags;		/* CFG_ONCE */
	int		 minargs, maxargs;	/* CFG_FN */
	cfg_fn		 fn;		/* CFG_FN */
	size_t		 off;		/* CFG_YESNO, CFG_UINT: in ctx->block,
					 * or ctx->arg at the top level */
	unsigned int	 min, max;	/* CFG_UINT */
	const char	*usage;		/* the arguments, for messages */
};

#define CFG_BLOCKS	0x1	/* "{", "}" and ";" are syntax */

struct cfg_syntax {
	const struct cfg_keyword *keywords;
	size_t		 nkeywords;
	int		 flags;		/* CFG_BLOCKS */
	int		 maxwords;	/* per statement, keyword included;
					 * at most CFG_MAXWORDS */
};

/* Read text (len bytes, any bytes) as a file of this syntax; arg goes to
 * the keywords' functions. */
int	cfg_parse(const struct cfg_syntax *, const char *file,
	    const char *text, size_t len, void *arg, char **cause);
/* The contents of a regular file of at most CFG_MAXFILE bytes (*text is
 * allocated and NUL-terminated). On error errno says why. */
int	cfg_read_file(const char *path, char **text, size_t *len,
	    char **cause);

/* The value readers the typed keywords use, for functions that need
 * them: what names the setting in the message. */
int	cfg_yesno(const char *what, const char *s, int *out, char **cause);
int	cfg_uint(const char *what, const char *s, unsigned int min,
	    unsigned int max, unsigned int *out, char **cause);

#endif
