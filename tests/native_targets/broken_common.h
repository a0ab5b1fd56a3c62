/* What the broken C targets share (broken_target.c, broken_lifecycle.c): a walk of a
 * tree, a detached thread, and a NULL pointer the compiler cannot see through. Included
 * after the example (offload_target.c), whose types it uses. */
#ifndef BROKEN_COMMON_H
#define BROKEN_COMMON_H

static int *volatile Nowhere; /* NULL */

typedef VOID (*VISIT)(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST);

/* Every block depth-first, breadth-next. */
static VOID Visit(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST Block, VISIT Fn) {
    for (; Block != NULL; Block = Block->NextBlock) {
        Fn(Block);
        Visit(Block->DependentBlockList, Fn);
    }
}

/* Fn(Argument) on a thread of the target's own, as a vendor's worker would run it. */
static void Spawn(void *(*Fn)(void *), void *Argument) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, Fn, Argument) == 0)
        pthread_detach(thread);
}

#endif
