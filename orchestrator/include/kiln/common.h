/* Shared definitions of kiln's public API: the export marker and the cleanup helpers that
 * both the library and the command line use. */
#ifndef KILN_COMMON_H
#define KILN_COMMON_H

#include <stdlib.h>
#include <unistd.h>

#define KILN_PUBLIC __attribute__((visibility("default")))

static inline void kiln_freep(void *p)
{
        free(*(void **) p);
        *(void **) p = NULL;
}

static inline void kiln_closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

#define kiln_autofree  __attribute__((cleanup(kiln_freep)))
#define kiln_autoclose __attribute__((cleanup(kiln_closep)))

/* KILN_DEFINE_AUTOPTR(T, fn): fn frees a T and returns NULL. */
#define KILN_DEFINE_AUTOPTR(T, fn)                                                                 \
        static inline void T##_autoptr_cleanup(T **p)                                              \
        {                                                                                          \
                if (*p)                                                                            \
                        *p = fn(*p);                                                               \
        }
#define kiln_autoptr(T) __attribute__((cleanup(T##_autoptr_cleanup))) T *

static inline void *kiln_steal_ptr(void *pp)
{
        void **p = pp, *v = *p;
        *p = NULL;
        return v;
}
#define kiln_steal(pp) ((__typeof__(*(pp))) kiln_steal_ptr(pp))

#define KILN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
